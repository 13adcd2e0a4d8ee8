"""Putting accepted revisions on chain: the worker, its plan, seeding, registry migration."""
