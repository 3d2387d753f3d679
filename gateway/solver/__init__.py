"""Solvers over order bundles (docs/architecture.md):

- :mod:`gateway.solver.milp` — the MILP plumbing shared with the simulated
  counterparty's auction: HiGHS/CBC set-up, exact status reading, rounding,
  integer rows over lot counts;
- :mod:`gateway.solver.presolve` — the pre-solver: can a non-empty fill exist,
  and what is the largest one;
- :mod:`gateway.solver.explain` — why an infeasible bundle cannot fill.
"""
