"""The pre-solver's fast path: exact answers for the common bundles without a MILP.

A bundle's model (``gateway.solver.presolve``) is: maximise ``Σ_i w_i · n_i``
over lot counts ``0 <= n_i <= c_i``, subject to integer rows
``Σ_i a_i · n_i (<= | == | >=) 0``. The strategies build one row (a hedge
ratio), two inequality rows (a band, a beta bound) or a chain of two-leg
equalities (proportional legs). :func:`decide` answers those in integer
arithmetic, in a number of steps bounded whatever the coefficients:

1. **All at the limit.** If every leg at its limit satisfies every row, that
   fill is the maximum.
2. **Reductions** that hold for every fill: in a homogeneous equality, a leg
   can only move in steps that the other coefficients' gcd allows (``4·a =
   9·(4·b + c)`` makes ``a`` a multiple of 9); a leg whose step exceeds its
   limit, or a leg that no other leg of an opposite sign can offset, is 0.
   When every leg is forced to 0, no non-empty fill exists: proven.
3. **Chains** of two-leg equalities fix every leg's proportion to the first:
   the fills are the multiples of one primitive integer vector, and the
   largest multiple within the limits is the maximum.
4. **One row** (:func:`_one_row`; an inequality gets a slack leg worth
   nothing). Legs with the same coefficient and weight merge into one. The LP
   relaxation is a fractional knapsack around one critical leg ``k``: the
   light side of the row fills to its limits and its weight is spent on the
   heavy side's legs with the most quantity per unit of weight. At the
   knapsack's ratio ``y = w_k / a_k`` every fill's value is
   ``G − Σ_i |w_i − y·a_i| · d_i``, ``d_i`` the leg's distance in lots from the
   LP point, and the fill is whole exactly when the moves bring the row's
   remainder modulo ``|a_k|`` to 0. The cheapest such moves are a shortest path
   over ``|a_k|`` remainders (Gomory's group relaxation): its value bounds
   every fill's, and when its fill keeps the limits the relaxation dropped, it
   is the maximum, proven. The critical leg and its neighbours are tried as
   pivots; a value bound of 0 proves only the empty fill exists.
5. **Several rows**: each row alone is a relaxation. One that admits only the
   empty fill proves the bundle infeasible; one whose maximum satisfies the
   other rows has found the bundle's maximum (typically a band or a beta bound
   with one side not binding).

Anything else — two rows binding at once, a search beyond its budget (large
coprime coefficients, the market-split bundles), a relaxed limit the search
could not keep, a non-homogeneous row — is left undecided (None) for the
MILP. The work is bounded: at most :data:`GROUP_SEARCH_BUDGET` remainder moves
per pivot, five pivots per row, :data:`DECIDE_BUDGET` in all. Every fill this
module returns satisfies the rows exactly; the pre-solver still re-checks it
against the bundle itself before reporting it.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Sequence
from dataclasses import dataclass

from gateway.core.bundle import Sense
from gateway.solver.milp import ScaledRow

__all__ = ["Decision", "decide", "least_one_row"]

#: Largest group search :func:`_group_search` runs: remainders times distinct moves.
GROUP_SEARCH_BUDGET = 20_000
#: Work one :func:`decide` call may do, in the same units (remainder moves, and one
#: per leg for each row solved): about 10 ms of Python at worst, ~0.1 ms typically.
DECIDE_BUDGET = 30_000
#: Rounds of reductions before giving up (two or three reach the fixed point in practice).
_REDUCTION_ROUNDS = 32
#: Pivot legs :func:`_one_row` searches from: the critical leg and its neighbours.
_PIVOTS = 5


class _Work:
    """What is left of one :func:`decide` call's budget."""

    __slots__ = ("left",)

    def __init__(self, budget: int) -> None:
        self.left = budget

    def spend(self, amount: int) -> bool:
        """Take ``amount`` from the budget; False (and nothing taken) if it is short."""
        if amount > self.left:
            return False
        self.left -= amount
        return True


@dataclass(frozen=True, slots=True)
class Decision:
    """What the fast path proved.

    Attributes:
        lots: the maximum fill in lot counts (leg order), proven maximal; or None
            when it proved that no non-empty fill exists.
        method: which step decided (``limits``, ``reduction``, ``chain``, ``one-row``,
            ``row-relaxation``), for benchmarks and logs.
    """

    lots: tuple[int, ...] | None
    method: str


def decide(
    rows: Sequence[ScaledRow], caps: Sequence[int], weights: Sequence[int]
) -> Decision | None:
    """The exact maximum of ``Σ weights[i] · n_i`` over lot counts ``0 <= n_i <= caps[i]``
    satisfying ``rows``, or a proof that only the empty fill does; None when the fast
    path cannot decide (the caller runs the MILP).

    ``weights`` must be positive integers. Rows with a non-zero right-hand side are
    not handled (None).
    """
    if any(row.rhs != 0 for row in rows):
        return None
    rows = _equalities(rows)
    count = len(caps)
    work = _Work(DECIDE_BUDGET)
    if _satisfies(rows, caps):
        return Decision(tuple(caps) if any(caps) else None, "limits")
    reduced = _reduce(rows, list(caps))
    if reduced is None:
        return None
    steps, limits = reduced
    active = [i for i in range(count) if limits[i] > 0]
    if not active:
        return Decision(None, "reduction")
    live = [row for row in rows if any(row.coefficients[i] for i in active)]
    if _satisfies(live, limits):
        return Decision(tuple(limits), "reduction")
    if all(row.sense is Sense.EQ for row in live):
        chain = _chain(live, limits, active, count)
        if chain is not None:
            return chain
    # Each row alone is a relaxation: if one admits no non-empty fill, neither does
    # the bundle; if one's maximum satisfies the other rows, it is the bundle's.
    # Over k_i = n_i / steps[i]: coefficients a_i·step_i, weights w_i·step_i.
    w = [weights[i] * steps[i] for i in range(count)]
    c = [limits[i] // steps[i] if steps[i] else 0 for i in range(count)]
    method = "one-row" if len(live) == 1 else "row-relaxation"
    for row in live:
        a = [row.coefficients[i] * steps[i] for i in range(count)]
        found = _one_row(a, w, c, row.sense, work)
        if isinstance(found, str):  # "infeasible"
            return Decision(None, method)
        if found is not None:
            lots = tuple(k * s for k, s in zip(found, steps, strict=True))
            if _satisfies(live, lots):
                return Decision(lots, method)
    return None


_FLIPPED = {Sense.LE: Sense.GE, Sense.GE: Sense.LE, Sense.EQ: Sense.EQ}


def _equalities(rows: Sequence[ScaledRow]) -> list[ScaledRow]:
    """``rows`` with each pair ``r <= 0`` and ``r >= 0`` of the same (scaled) row
    replaced by ``r == 0``: a band whose two ends are the same ratio."""
    by_row: dict[tuple[int, ...], list[ScaledRow]] = {}
    for given in rows:
        first = next((a for a in given.coefficients if a), 0)
        row = (
            ScaledRow(given.name, tuple(-a for a in given.coefficients), _FLIPPED[given.sense], 0)
            if first < 0
            else given
        )
        by_row.setdefault(row.coefficients, []).append(row)
    if len(by_row) == len(rows):
        return list(rows)
    merged = []
    for coefficients, same in by_row.items():
        senses = {row.sense for row in same}
        if senses >= {Sense.LE, Sense.GE} or Sense.EQ in senses:
            name = "+".join(row.name for row in same)
            merged.append(ScaledRow(name, coefficients, Sense.EQ, 0))
        else:
            merged.extend(same)
    return merged


def _satisfies(rows: Sequence[ScaledRow], lots: Sequence[int]) -> bool:
    for row in rows:
        lhs = sum(a * n for a, n in zip(row.coefficients, lots, strict=True))
        if row.sense is Sense.EQ and lhs != 0:
            return False
        if row.sense is Sense.LE and lhs > 0:
            return False
        if row.sense is Sense.GE and lhs < 0:
            return False
    return True


def _reduce(rows: Sequence[ScaledRow], caps: list[int]) -> tuple[list[int], list[int]] | None:
    """Steps and limits every fill obeys: ``n_i`` is a multiple of ``steps[i]`` and
    at most ``caps[i]`` (0 when the leg cannot fill). Repeats to a fixed point."""
    count = len(caps)
    steps = [1] * count
    for _ in range(_REDUCTION_ROUNDS):  # each round lowers a cap or raises a step
        changed = False
        for row in rows:
            live = [i for i in range(count) if caps[i] > 0 and row.coefficients[i]]
            if not live:
                continue
            zero_out = _unbalanced(row, live)
            for i in zero_out:
                caps[i] = 0
            changed = changed or bool(zero_out)
            if not zero_out and row.sense is Sense.EQ:
                changed = _divisibility(row, live, steps, caps) or changed
        if not changed:
            return steps, caps
    return None


def _unbalanced(row: ScaledRow, live: Sequence[int]) -> list[int]:
    """The legs of a homogeneous ``row`` that no live leg of the other sign can offset."""
    positive = [i for i in live if row.coefficients[i] > 0]
    negative = [i for i in live if row.coefficients[i] < 0]
    if row.sense is Sense.EQ:
        return list(live) if not positive or not negative else []
    if row.sense is Sense.LE:
        return positive if not negative else []
    return negative if not positive else []


def _divisibility(row: ScaledRow, live: Sequence[int], steps: list[int], caps: list[int]) -> bool:
    """Raise each leg's step to what a homogeneous equality allows: ``a_i·n_i`` must be
    a multiple of the other terms' gcd ``G``, so ``n_i`` of ``G / gcd(G, a_i)``.
    Returns whether a step changed."""
    terms = [row.coefficients[i] * steps[i] for i in live]
    before = [0] * (len(terms) + 1)  # gcd of the terms before each position
    after = [0] * (len(terms) + 1)  # ... and from each position on
    for index, term in enumerate(terms):
        before[index + 1] = math.gcd(before[index], term)
    for index in range(len(terms) - 1, -1, -1):
        after[index] = math.gcd(after[index + 1], terms[index])
    changed = False
    for index, i in enumerate(live):
        others = math.gcd(before[index], after[index + 1])
        step = others // math.gcd(others, terms[index])
        if step > 1:
            steps[i] *= step
            caps[i] = caps[i] // steps[i] * steps[i]
            changed = True
    return changed


def _chain(
    rows: Sequence[ScaledRow], caps: Sequence[int], active: Sequence[int], count: int
) -> Decision | None:
    """Equalities that each tie two legs, all connected: every fill is a multiple
    of one primitive vector; the largest within the limits is the maximum."""
    edges: list[tuple[int, int, int, int]] = []
    for row in rows:
        legs = [i for i in range(count) if row.coefficients[i] and caps[i] > 0]
        if len(legs) != 2:
            return None
        i, j = legs
        edges.append((i, row.coefficients[i], j, row.coefficients[j]))
    ratio = _proportions(edges, active[0])
    if ratio is None or set(ratio) != set(active):
        return None  # not connected: more than one degree of freedom
    if not ratio:
        return Decision(None, "chain")  # inconsistent proportions: only the empty fill
    # A primitive integer vector with a positive first entry.
    denominator = math.lcm(*(den // math.gcd(num, den) for num, den in ratio.values()))
    vector = [0] * count
    for leg, (num, den) in ratio.items():
        vector[leg] = num * denominator // den
    divisor = math.gcd(*vector)
    vector = [v // divisor for v in vector]
    if any(v < 0 for v in vector):
        return Decision(None, "chain")  # proportions of opposite signs: only 0
    multiple = min(caps[i] // vector[i] for i in active)
    if multiple == 0:
        return Decision(None, "chain")
    return Decision(tuple(v * multiple for v in vector), "chain")


def _proportions(
    edges: Sequence[tuple[int, int, int, int]], root: int
) -> dict[int, tuple[int, int]] | None:
    """Each leg's fill as a fraction ``num / den`` (``den > 0``) of the root leg's, from
    equalities ``a·n_i + b·n_j = 0``; {} when they contradict each other, None when
    they leave a leg of an edge unconnected to the root."""
    ratio = {root: (1, 1)}
    pending = list(edges)
    while pending:
        left = []
        for i, a, j, b in pending:  # n_j = −a/b · n_i
            if i in ratio and j in ratio:
                (ni, di), (nj, dj) = ratio[i], ratio[j]
                if a * ni * dj + b * nj * di != 0:
                    return {}
            elif i in ratio:
                ni, di = ratio[i]
                ratio[j] = _fraction(-a * ni, b * di)
            elif j in ratio:
                nj, dj = ratio[j]
                ratio[i] = _fraction(-b * nj, a * dj)
            else:
                left.append((i, a, j, b))
        if len(left) == len(pending):
            return None
        pending = left
    return ratio


def _fraction(num: int, den: int) -> tuple[int, int]:
    return (-num, -den) if den < 0 else (num, den)


def _one_row(
    a: list[int], w: list[int], c: list[int], sense: Sense, work: _Work
) -> list[int] | str | None:
    """The exact maximum of ``Σ w_i k_i`` over ``0 <= k_i <= c_i`` with
    ``Σ a_i k_i (sense) 0``: the fill, "infeasible", or None (not decided).

    An inequality becomes an equality with a slack leg (weight 0). The LP
    optimum is a fractional knapsack around one critical leg ``k``; at its ratio
    ``y = w_k / a_k`` every fill's value is ``G − Σ_i |r_i| · d_i`` with
    ``r_i = w_i − y·a_i`` and ``d_i`` the leg's distance from the LP point
    (:func:`_group_search`).
    """
    # Legs with the same coefficient and weight are one leg with their limits summed:
    # any total of theirs splits back within their limits.
    members: dict[tuple[int, int], list[int]] = {}
    for i, key in enumerate(zip(a, w, strict=True)):
        if c[i]:
            members.setdefault(key, []).append(i)
    groups = list(members.values())
    if not work.spend(len(a)):
        return None
    merged = _one_row_merged(
        [a[g[0]] for g in groups],
        [w[g[0]] for g in groups],
        [sum(c[i] for i in g) for g in groups],
        sense,
        work,
    )
    if not isinstance(merged, list):
        return merged
    lots = [0] * len(a)
    for group, total in zip(groups, merged, strict=True):
        left = total
        for i in group:
            lots[i] = min(c[i], left)
            left -= lots[i]
    return lots


def _one_row_merged(
    a: list[int], w: list[int], c: list[int], sense: Sense, work: _Work
) -> list[int] | str | None:
    """:func:`_one_row` over legs that differ in coefficient or weight."""
    count = len(a)
    if sense is not Sense.EQ:
        greedy = _equal_weight_knapsack(a, w, c, sense)
        if greedy is not None:
            return greedy if any(greedy) else "infeasible"
        # Σ a k + slack·s = 0, s >= 0, worth nothing
        largest = sum(abs(ai) * ci for ai, ci in zip(a, c, strict=True))
        a, w, c = [*a, 1 if sense is Sense.LE else -1], [*w, 0], [*c, largest]
    total = sum(ai * ci for ai, ci in zip(a, c, strict=True))
    sign = 1 if total > 0 else -1
    heavy = [i for i in range(len(a)) if c[i] and a[i] * sign > 0]
    budget = sum(-a[i] * sign * c[i] for i in range(len(a)) if c[i] and a[i] * sign < 0)
    heavy.sort(key=lambda i: w[i] / abs(a[i]), reverse=True)  # most quantity per weight
    position = None
    for index, i in enumerate(heavy):
        if abs(a[i]) * c[i] <= budget:
            budget -= abs(a[i]) * c[i]
        else:
            position = index
            break
    if position is None:
        return None  # the caller checked the limits; cannot happen
    # The critical leg first, then its neighbours in ratio order: every pivot's
    # search bounds the maximum, and a fill that meets the lowest bound is proven.
    order = sorted(range(len(heavy)), key=lambda index: abs(index - position))
    best: list[int] | None = None
    best_value = -1
    bound: int | None = None
    for index in order[:_PIVOTS]:
        found = _group_search(a, w, c, heavy[index], work)
        if found is None:
            continue
        ceiling, fill = found
        bound = ceiling if bound is None else min(bound, ceiling)
        if fill is not None:
            value = sum(n * wi for n, wi in zip(fill, w, strict=True))
            if value > best_value:
                best, best_value = fill, value
        if best is not None and best_value >= bound:
            return best[:count] if any(best[:count]) else "infeasible"
    if bound is not None and bound <= 0:
        return "infeasible"
    return None


def _equal_weight_knapsack(
    a: Sequence[int], w: Sequence[int], c: Sequence[int], sense: Sense
) -> list[int] | None:
    """The maximum of an inequality row whose violating legs all weigh the same;
    None when they do not.

    Legs whose coefficient has the allowed sign (or is 0) only make room, so they
    are at their limits in every maximum. The room they make, ``B``, is then spent
    on the others: with equal weights the most lots fit by taking the smallest
    coefficients first (any ``m`` lots use at least the ``m`` smallest).
    """
    sign = 1 if sense is Sense.LE else -1  # the violating legs have a_i·sign > 0
    heavy = [i for i in range(len(a)) if c[i] and a[i] * sign > 0]
    if len({w[i] for i in heavy}) > 1:
        return None
    lots = [0 if a[i] * sign > 0 else c[i] for i in range(len(a))]
    room = -sign * sum(a[i] * lots[i] for i in range(len(a)))
    for i in sorted(heavy, key=lambda i: abs(a[i])):
        take = min(c[i], room // abs(a[i]))
        if take <= 0:
            break
        lots[i] = take
        room -= take * abs(a[i])
    return lots


def _group_search(
    a: Sequence[int], w: Sequence[int], c: Sequence[int], k: int, work: _Work
) -> tuple[int, list[int] | None] | None:
    """An upper bound on the best value of ``Σ a_i n_i = 0``, ``0 <= n_i <= c_i``, and
    the fill that attains it when there is one, searched from the LP point at
    pivot leg ``k``; None when the search would be too large.

    With ``y = p / q = w_k / a_k`` and ``R_i = q·w_i − p·a_i`` (``q·r_i``, an
    integer), the point has ``n_i = c_i`` where ``R_i > 0`` and ``n_i = 0``
    elsewhere, ``n_k`` making up the row; every fill's value is
    ``(Σ_{R_i > 0} R_i·c_i − Σ_i |R_i|·d_i) / q``, ``d_i`` its leg's distance in
    lots from that point. Moving a leg changes ``a_k·n_k`` by ``±a_i``, and ``n_k``
    is an integer exactly when the moves bring the row's remainder modulo ``|a_k|``
    to 0: the cheapest such moves are a shortest path over the ``|a_k|``
    remainders (Gomory's group relaxation, by Dijkstra's algorithm). It relaxes
    ``d_i <= c_i`` and ``0 <= n_k <= c_k``, so its value bounds every fill's; when
    its fill keeps those limits, that fill attains the bound. With ``k`` the LP's
    critical leg, the bound is also at most the LP's.
    """
    p, q = w[k], a[k]
    if q < 0:
        p, q = -p, -q
    modulus = q
    start = 0  # a_k·n_k = −Σ_i a_i·n_i at the point, modulo |a_k|
    top = 0  # q times the point's value
    moves: dict[int, tuple[int, int]] = {}  # residue step -> (cost, leg), cheapest only
    for i in range(len(a)):
        if i == k or not c[i]:
            continue
        reduced = q * w[i] - p * a[i]
        if reduced > 0:
            start -= a[i] * c[i]
            top += reduced * c[i]
            step, cost = a[i] % modulus, reduced  # one lot fewer: −a_i less on the left
        else:
            step, cost = (-a[i]) % modulus, -reduced
        if step and (step not in moves or cost < moves[step][0]):
            moves[step] = (cost, i)
    effort = modulus * max(len(moves), 1)
    if effort > GROUP_SEARCH_BUDGET or not work.spend(effort):
        return None
    origin = start % modulus
    path = _cheapest_moves(moves, origin, modulus)
    if path is None:
        return None  # cannot happen: the empty fill is a path
    cost, legs = path
    ceiling = (top - cost) // q
    lots = [c[i] if i != k and q * w[i] - p * a[i] > 0 else 0 for i in range(len(a))]
    for leg in legs:
        lots[leg] += -1 if q * w[leg] - p * a[leg] > 0 else 1
        if not 0 <= lots[leg] <= c[leg]:
            return ceiling, None
    rest = -sum(a[i] * lots[i] for i in range(len(a)) if i != k)
    if rest % a[k] or not 0 <= rest // a[k] <= c[k]:
        return ceiling, None
    lots[k] = rest // a[k]
    return ceiling, lots


def _cheapest_moves(
    moves: dict[int, tuple[int, int]], origin: int, modulus: int
) -> tuple[int, list[int]] | None:
    """The cheapest sequence of moves (``step -> (cost, leg)``) that takes remainder
    ``origin`` to 0 modulo ``modulus``: its cost and the legs moved, by Dijkstra's
    algorithm."""
    distance = {origin: 0}
    parent: dict[int, tuple[int, int]] = {}
    frontier = [(0, origin)]
    while frontier:
        cost, residue = heapq.heappop(frontier)
        if residue == 0:
            break
        if cost > distance[residue]:
            continue
        for step, (price, leg) in moves.items():
            nxt = (residue + step) % modulus
            total = cost + price
            if total < distance.get(nxt, total + 1):
                distance[nxt] = total
                parent[nxt] = (residue, leg)
                heapq.heappush(frontier, (total, nxt))
    if 0 not in distance:
        return None
    legs: list[int] = []
    residue = 0
    while residue != origin:
        residue, leg = parent[residue]
        legs.append(leg)
    return distance[0], legs


#: Largest search :func:`least_one_row` runs: states (twice the largest coefficient)
#: times legs.
LEAST_FILL_BUDGET = 40_000


def least_one_row(row: ScaledRow, weights: Sequence[int]) -> tuple[int, ...] | None:
    """The non-empty lot counts of least total weight that satisfy one homogeneous
    row, with no limits on the legs; None when the row is not homogeneous, no
    non-empty solution exists, or the search would exceed :data:`LEAST_FILL_BUDGET`.

    An inequality is satisfied by one lot of a leg whose coefficient has the
    allowed sign (or is 0); the lightest such lot is the answer. So is an
    equality by one lot of a leg outside it. Otherwise the lots of a solution of
    ``Σ a_i n_i = 0`` can be added one at a time so that every partial sum stays
    in ``(−M, M]``, ``M = max |a_i|`` (add a positive coefficient while the sum is
    <= 0, a negative one otherwise): the least solution is a shortest cycle from
    0 back to 0 over those sums (:func:`_least_cycle`). Its lot counts never
    exceed ``M`` (Lambert's bound for a minimal solution), so limits lifted to
    ``M`` do not change it.
    """
    if row.rhs != 0:
        return None
    a = row.coefficients
    count = len(a)
    if row.sense is Sense.EQ:
        allowed = [i for i in range(count) if a[i] == 0]
    else:
        allowed = [i for i in range(count) if (a[i] <= 0 if row.sense is Sense.LE else a[i] >= 0)]
    alone = None
    if allowed:
        lightest = min(allowed, key=lambda i: weights[i])
        alone = tuple(1 if i == lightest else 0 for i in range(count))
    if row.sense is not Sense.EQ:
        return alone
    cycle = _least_cycle(a, weights)
    if cycle is None:
        return alone
    lots, weight = cycle
    if alone is not None and weights[alone.index(1)] <= weight:
        return alone
    return lots


def _least_cycle(a: Sequence[int], weights: Sequence[int]) -> tuple[tuple[int, ...], int] | None:
    """The least-weight non-empty solution of ``Σ a_i n_i = 0`` and its weight, by
    Dijkstra's algorithm over partial sums in ``(−M, M]``; None when there is none
    or the search would exceed :data:`LEAST_FILL_BUDGET`."""
    positive = [i for i, ai in enumerate(a) if ai > 0]
    negative = [i for i, ai in enumerate(a) if ai < 0]
    if not positive or not negative:
        return None
    if 2 * max(map(abs, a)) * (len(positive) + len(negative)) > LEAST_FILL_BUDGET:
        return None
    distance: dict[int, int] = {}
    parent: dict[int, tuple[int, int]] = {}  # sum -> (previous sum, leg)
    frontier: list[tuple[int, int]] = []
    for i in positive:  # the first lot leaves 0 by a positive coefficient
        if weights[i] < distance.get(a[i], weights[i] + 1):
            distance[a[i]] = weights[i]
            parent[a[i]] = (0, i)
            heapq.heappush(frontier, (weights[i], a[i]))
    best: tuple[int, int, int] | None = None  # (weight, last sum, last leg)
    while frontier:
        cost, state = heapq.heappop(frontier)
        if cost > distance[state] or (best is not None and cost >= best[0]):
            continue
        for i in positive if state <= 0 else negative:
            nxt, step = state + a[i], cost + weights[i]
            if nxt == 0:
                if best is None or step < best[0]:
                    best = (step, state, i)
            elif step < distance.get(nxt, step + 1):
                distance[nxt] = step
                parent[nxt] = (state, i)
                heapq.heappush(frontier, (step, nxt))
    if best is None:
        return None
    weight, state, leg = best
    lots = [0] * len(a)
    lots[leg] += 1
    while state != 0:
        state, leg = parent[state]
        lots[leg] += 1
    return tuple(lots), weight
