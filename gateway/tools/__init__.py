"""Tools over the gateway: the ``bidgw`` command line, the FIX desk client, the demo
and the TLS proxy."""
