"""Why an infeasible bundle cannot fill: a reason a person can act on.

The pre-solver calls :func:`explain_infeasible` once it has proven that no
non-empty fill satisfies a bundle (docs/math.md §4, "Feasibility is never
q = 0"). The explanation, in order:

1. **Signs.** A homogeneous row whose coefficients all have the same sign
   admits only the empty fill, at any size (:func:`sign_reason`).
2. **The culprits.** Otherwise a deletion filter finds a minimal set of
   constraints that together admit no non-empty fill within the legs' limits
   (:func:`minimal_conflict`): drop each constraint in turn and keep it out if
   the rest still admit none.
3. **How large a fill would have to be.** With the limits lifted, the smallest
   non-empty fill that satisfies the culprits (:func:`least_fill`) names the
   legs whose limits it exceeds, e.g. "the smallest fill that does is AAAA 900,
   BBBB 100, CCCC 0, which needs AAAA 900 above its limit 500". One homogeneous
   equality between two legs (a hedge ratio) has a closed form, used first:
   ``a·n_i + b·n_j = 0`` is solved by ``n_i = |b|/g, n_j = |a|/g`` with
   ``g = gcd(a, b)`` and by multiples of it only; any other single row is
   searched exactly over its partial sums (:func:`gateway.solver.fast.least_one_row`).
   The MILP answers the rest. The lifted limits never make
   the model inexact: a solve whose activity could pass
   :data:`gateway.solver.milp.MAX_EXACT_ACTIVITY` is not run (HiGHS was seen
   looping in root separation, past its time limit, on such a model).

Every solve here shares the pre-solver's deadline; a question not answered
by then counts as unknown, and the explanation says less.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from typing import Literal

from gateway.core.bundle import Constraint, OrderBundle, Sense
from gateway.solver.fast import least_one_row
from gateway.solver.milp import (
    ScaledRow,
    SolverSettings,
    oversized_row,
    solve_lots,
)

__all__ = [
    "explain_infeasible",
    "least_fill",
    "minimal_conflict",
    "pair_smallest_fill",
    "sign_reason",
]


def explain_infeasible(
    bundle: OrderBundle,
    rows: Sequence[ScaledRow],
    settings: SolverSettings | None,
    deadline: float,
) -> str | None:
    """A reason a person can act on for an infeasible bundle.

    ``rows`` are the bundle's constraints scaled over lot counts (one per
    constraint, in order); ``deadline`` is a :func:`time.perf_counter` value
    after which no further solve starts. With ``settings`` None no solver runs:
    the answer is None when the closed forms alone do not explain the bundle.
    """
    symbols = bundle.symbols
    constraints = bundle.constraints
    generic = "no non-empty fill satisfies the constraints within the legs' limits and lot sizes"
    if not constraints:
        return (
            f"no non-empty fill reaches the minimum total fill {bundle.min_total_fill} "
            "within the legs' limits"
            if bundle.min_total_fill
            else generic
        )
    for row, constraint in zip(rows, constraints, strict=True):
        reason = sign_reason(row, constraint, symbols)
        if reason:
            return f"{reason}{_description(constraint)}"
    if len(rows) == 1 and not bundle.min_total_fill:
        keep: list[int] | None = [0]  # the bundle is infeasible: its one row is the conflict
    elif settings is None:
        return None
    else:
        keep = minimal_conflict(bundle, rows, settings, deadline)
    if keep is None:
        # Only the min_total_fill row (absent from this check) makes it infeasible.
        return (
            f"fills that satisfy the constraints total less than the minimum total fill "
            f"{bundle.min_total_fill}"
            if bundle.min_total_fill
            else generic
        )
    culprits = [constraints[i] for i in keep]
    culprit_rows = [rows[i] for i in keep]
    names = " and ".join(f"{c.name} ({c.render(symbols)}){_description(c)}" for c in culprits)
    subject = f"constraint {names}" if len(culprits) == 1 else f"constraints {names} together"
    found = _smallest(bundle, culprit_rows, culprits, settings, deadline)
    if isinstance(found, str):  # only a solver could find it, and none may run
        return None
    smallest, proven = found if found is not None else (None, False)
    if smallest is None:
        return f"no non-empty fill within the legs' limits satisfies {subject}"
    over = [
        f"{leg.symbol} {qty} above its limit {leg.max_qty}"
        for leg, qty in zip(bundle.legs, smallest, strict=True)
        if qty > leg.max_qty
    ]
    return (
        f"no non-empty fill within the legs' limits satisfies {subject}: with lot sizes "
        f"{_lots(bundle)} {'the smallest fill that does is' if proven else _UNPROVEN} "
        f"{_fmt_fill(bundle, smallest)}, "
        f"which needs {', '.join(over) or 'more than the limits allow'}"
    )


def _smallest(
    bundle: OrderBundle,
    rows: Sequence[ScaledRow],
    constraints: Sequence[Constraint],
    settings: SolverSettings | None,
    deadline: float,
) -> tuple[tuple[int, ...], bool] | Literal["needs a solver"] | None:
    """The smallest non-empty fill of ``rows`` with the legs' limits lifted, and
    whether it is proven smallest; None if none was found; "needs a solver" when
    only a solver could find it and ``settings`` is None.

    The closed forms first (a two-leg ratio, then any single row); the MILP for the
    rest, with the limits lifted to a bound large enough for the smallest two-leg
    solution (``|a_j|/g`` lots of one leg against ``|a_i|/g`` of the other).
    """
    smallest = pair_smallest_fill(bundle, rows, constraints)
    if smallest is None and len(rows) == 1:
        unit = math.gcd(*(leg.lot_size for leg in bundle.legs))
        lots = least_one_row(rows[0], [leg.lot_size // unit for leg in bundle.legs])
        if lots is not None:
            fill = tuple(n * leg.lot_size for n, leg in zip(lots, bundle.legs, strict=True))
            smallest = fill if all(c.holds(fill) for c in constraints) else None
    if smallest is not None:
        return smallest, True  # the closed forms are the smallest
    if settings is None:
        return "needs a solver"
    bound = max((abs(a) for row in rows for a in row.coefficients), default=1)
    caps = [max(leg.max_lots, bound) for leg in bundle.legs]
    if oversized_row(rows, caps) is not None:
        return None
    return least_fill(bundle, rows, caps, settings, deadline, constraints=constraints)


def sign_reason(row: ScaledRow, constraint: Constraint, symbols: Sequence[str]) -> str | None:
    """Why a homogeneous row admits no non-empty fill at any size, if it is the signs.

    ``row`` is ``constraint`` scaled over lot counts; ``symbols`` name the legs.
    None when the row has a non-zero right-hand side or its signs allow a fill.
    """
    if row.rhs != 0:
        return None
    signs = {(a > 0) - (a < 0) for a in row.coefficients}
    rendered = constraint.render(symbols)
    if row.sense is Sense.EQ and signs in ({1}, {-1}):
        kind = "positive" if signs == {1} else "negative"
        return (
            f"constraint {constraint.name} ({rendered}) needs legs with coefficients of "
            f"both signs, but every coefficient is {kind}, so only the empty fill "
            "satisfies it"
        )
    if row.sense is Sense.LE and signs == {1}:
        return (
            f"constraint {constraint.name} ({rendered}) needs a leg with a coefficient "
            "<= 0, but every coefficient is positive, so only the empty fill satisfies it"
        )
    if row.sense is Sense.GE and signs == {-1}:
        return (
            f"constraint {constraint.name} ({rendered}) needs a leg with a coefficient "
            ">= 0, but every coefficient is negative, so only the empty fill satisfies it"
        )
    return None


def minimal_conflict(
    bundle: OrderBundle, rows: Sequence[ScaledRow], settings: SolverSettings, deadline: float
) -> list[int] | None:
    """Indices of a minimal set of ``rows`` that no non-empty fill within the legs'
    limits satisfies (ignoring the minimum total fill), by a deletion filter.

    None when all of ``rows`` together admit a non-empty fill, or when that is
    not proven before ``deadline``. A row whose removal cannot be proven to keep
    the set infeasible in time stays in the set.
    """
    if _feasible_alone(bundle, rows, settings, deadline) is not False:
        return None
    keep = list(range(len(rows)))
    for index in list(keep):
        trial = [i for i in keep if i != index]
        if trial and _feasible_alone(bundle, [rows[i] for i in trial], settings, deadline) is False:
            keep = trial
    return keep


_UNPROVEN = "a fill that does (the smallest was not proven within the time limit) is"


def least_fill(
    bundle: OrderBundle,
    rows: Sequence[ScaledRow],
    caps: Sequence[int],
    settings: SolverSettings,
    deadline: float,
    *,
    constraints: Sequence[Constraint] | None = None,
) -> tuple[tuple[int, ...], bool] | None:
    """The verified non-empty fill with the least total quantity found before
    ``deadline``, and whether the solver proved it least; None if none was found.

    ``caps`` bound each leg's lot count (the legs' limits, or larger to see how
    far beyond them a fill would have to go). ``constraints`` restricts the
    exact check to a subset (when explaining); by default the whole bundle is
    verified, including the minimum total fill.
    """
    remaining = deadline - time.perf_counter()
    if remaining <= 0:
        return None
    answer = solve_lots(
        bundle,
        rows,
        caps,
        settings,
        remaining,
        minimise=True,
        min_total=bundle.min_total_fill if constraints is None else None,
    )
    if answer.lots is None:
        return None
    lots = answer.lots
    fill = [n * leg.lot_size for n, leg in zip(lots, bundle.legs, strict=True)]
    checked = constraints if constraints is not None else bundle.constraints
    if sum(fill) == 0:  # lots within caps and rows held: solve_lots checked both
        return None
    if not all(c.holds(fill) for c in checked):
        return None
    if constraints is None and bundle.violations(fill):
        return None
    return tuple(fill), answer.status == "optimal"


def pair_smallest_fill(
    bundle: OrderBundle, rows: Sequence[ScaledRow], constraints: Sequence[Constraint]
) -> tuple[int, ...] | None:
    """The smallest non-empty fill of one homogeneous equality between two legs, exactly.

    ``rows`` must be a single row ``a·n_i + b·n_j == 0`` with ``a`` and ``b`` of
    opposite signs and every other coefficient zero: its non-negative integer
    solutions over legs ``i, j`` are the multiples of ``(|b|/g, |a|/g)``,
    ``g = gcd(a, b)``. A leg outside the row fills it alone with one lot, so the
    smallest fill is that lot when it is smaller. None for any other shape (the
    MILP answers those).
    """
    if len(rows) != 1 or rows[0].sense is not Sense.EQ or rows[0].rhs != 0:
        return None
    row = rows[0]
    legs = [i for i, a in enumerate(row.coefficients) if a]
    if len(legs) != 2:
        return None
    i, j = legs
    a, b = row.coefficients[i], row.coefficients[j]
    if (a > 0) == (b > 0):
        return None
    g = math.gcd(a, b)
    pair = [0] * len(bundle.legs)
    pair[i], pair[j] = abs(b) // g * bundle.legs[i].lot_size, abs(a) // g * bundle.legs[j].lot_size
    candidates = [tuple(pair)]
    for k, leg in enumerate(bundle.legs):
        if k not in (i, j):
            alone = [0] * len(bundle.legs)
            alone[k] = leg.lot_size
            candidates.append(tuple(alone))
    fill = min(candidates, key=sum)
    return fill if all(c.holds(fill) for c in constraints) else None


def _feasible_alone(
    bundle: OrderBundle, rows: Sequence[ScaledRow], settings: SolverSettings, deadline: float
) -> bool | None:
    """Whether a non-empty fill within limits satisfies ``rows``; None if unknown."""
    remaining = deadline - time.perf_counter()
    if remaining <= 0:
        return None
    caps = [leg.max_lots for leg in bundle.legs]
    answer = solve_lots(bundle, rows, caps, settings, remaining, minimise=False, min_total=None)
    if answer.status == "infeasible":
        return False
    if answer.lots is None:
        return None
    if sum(answer.lots) > 0:
        return True
    return False if answer.status == "optimal" else None


def _description(constraint: Constraint) -> str:
    return f" [{constraint.description}]" if constraint.description else ""


def _lots(bundle: OrderBundle) -> str:
    sizes = {leg.lot_size for leg in bundle.legs}
    if len(sizes) == 1:
        return str(sizes.pop())
    return ", ".join(f"{leg.symbol} {leg.lot_size}" for leg in bundle.legs)


def _fmt_fill(bundle: OrderBundle, quantities: Sequence[int]) -> str:
    parts = [f"{leg.symbol} {qty}" for leg, qty in zip(bundle.legs, quantities, strict=True)]
    return ", ".join(parts)
