"""Files on disk: content-addressed blobs, atomic writes, private modes, keystores."""
