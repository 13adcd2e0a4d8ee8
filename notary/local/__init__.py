"""A local deployment in one data dir (embedded chain, keys, registry, database)."""
