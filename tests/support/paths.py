"""Where things are, for tests that run scripts or read committed files."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
"""The repository root."""
VECTORS = ROOT / "tests" / "vectors"
"""Committed golden vectors."""
SHOTS = ROOT / "test-artifacts" / "screenshots"
"""Where browser tests keep their screenshots (not committed)."""
