"""Solvers over order bundles: the pre-solver and the MILP plumbing it shares with the
simulated counterparty's auction (docs/architecture.md)."""
