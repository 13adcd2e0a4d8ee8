"""The one publishing path, for every door (the API, the `notary` command, the console,
imports): validate → PII guard → type from the bytes → tier → blob → access-log entry →
pending revision, in the caller's one transaction.

- `content`: the file's type (the bytes decide), size, the PII guard (mask, recorded
  override), the text guard, hashes.
- `metadata`: the client's metadata parsed strictly and completed (office, tier, SM3).
- `records`: `insert_drafts` (new records, any number, one statement per table) and
  `revise_record` (the next version), each writing its blob rows, PII overrides and
  access-log entries.
- `blobs`: content-addressed files on disk and their rows.
- `accesslog`: the hash-chained access log.
- `errors`: the refusals (too large, unsupported type, personal data).

Who may write (API keys and roles, an office's own records) is the door's to check; what
may be written is checked here, so no door can skip a rule.
"""
