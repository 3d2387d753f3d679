"""QuickFIX plumbing (connectors, safe callbacks, dispatch) and one codec per hop:
typed records <-> quickfix messages (docs/architecture.md)."""
