"""Use cases behind the routers: each takes a session and a caller, raises `notary.errors`."""
