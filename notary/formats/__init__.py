"""Pure formats: hashes, leaves, Merkle trees, metadata, QR payloads, proof bundles (no I/O)."""
