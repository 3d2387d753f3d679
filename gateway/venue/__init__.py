"""The simulated counterparty (``bidgw venue``): a thin FIX acceptor over a
combinatorial call auction. Nothing on the gateway side imports this package
(tests/unit/test_layers.py enforces it)."""
