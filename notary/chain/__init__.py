"""The chain: registry client, ABI, events, logs, transactions, the local anvil, checkpoints."""
