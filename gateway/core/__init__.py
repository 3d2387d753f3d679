"""The domain core: the order bundle, exact arithmetic, errors, shared field types,
config and YAML loading, the strategy plugin protocol, and the SQLite inbox both
journals share. Nothing here imports quickfix (docs/architecture.md)."""
