"""The gateway proper: an I/O-free decision core over a book of bundles, the journal
that makes it crash-safe, and thin FIX session applications that translate
(docs/architecture.md)."""
