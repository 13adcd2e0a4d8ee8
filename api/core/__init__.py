"""The API's plumbing: settings, database handle, keys, errors, limits, dependencies, server."""
