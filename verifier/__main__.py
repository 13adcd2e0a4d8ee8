"""`python -m verifier …` runs the `verifier` CLI."""

from verifier.cli import main

raise SystemExit(main())
