"""The data layer: models, engines and sessions, migrations and repository functions."""
