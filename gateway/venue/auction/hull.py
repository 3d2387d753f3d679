"""A primal start for a large ``ladder`` part: the bundles' integer hulls (issue 15).

On the bench's books from a few hundred bundles up, HiGHS's bound is within
~0.05% of the optimum after a few cut rounds, and handed a solution that close it
stops there; without one it spends seconds *finding* it (central rounding and a
RENS sub-MIP: docs/auction.md, "Where the time goes"). The gap between the LP and
the integer optimum is each bundle's own integer hull, not the coupling. So
:func:`hull_start` builds the start from those hulls:

1. the LP relaxation of the whole model (HiGHS, the part's options); the integer
   columns that are not orders (the price ladder's and self-trade binaries) and are
   whole there are fixed at those values, and every row left with one free column
   becomes a bound on it;
2. Dantzig-Wolfe column generation over the bundles: the master LP has the rows
   that are not a bundle's own (balance, what is left of the ladder) over the
   contra orders, the binaries and, per bundle, a convex combination of whole-lot
   fills of the bundle ("patterns"); each round prices every bundle at the master's
   duals by solving its own integer program *exactly* (:func:`integer_optima`, the
   compiled kernel ``_hull.c``: a bundle is a few legs and rows) and adds the fills
   that improve the master, until none does or :data:`ROUNDS` rounds;
3. a RENS-style sub-MIP around the master's optimum: a bundle on one pattern is
   fixed to it (unless it fills a leg tied to a binary the master left fractional:
   such fills agree only through that fraction), a bundle on none is empty, the
   binaries whole in the master are fixed, the other bundles are free; HiGHS solves
   that (presolve on: most columns are fixed) to :data:`SUB_GAP`, with the
   objective's tie-breaks left out (they only order equal improvements; without
   them HiGHS is faster, docs/auction.md).

The result is only a start: the caller hands it to HiGHS (``setSolution``), which
checks it and proves the gap on the unchanged model, and the auction's fill is
verified exactly as always. Every step is deterministic (HiGHS's and the
kernel's); only ``deadline`` can cut the sub-MIP short (in ``clear``, half of the
part's time: :data:`~gateway.venue.auction.solvers.START_SHARE`), and one cut short
still hands over the best fill it found. Measured on the bench's 500-bundle book and
three more seeds with a best known fill (docs/auction.md): the start is 0.003-0.03%
below it, and HiGHS then reaches 1e-3 in 0.1-0.25 s.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import highspy
import numpy as np
import numpy.typing as npt

from gateway.venue.auction import _hull
from gateway.venue.auction.matrix import quiet_highs
from gateway.venue.auction.model import Model

__all__ = [
    "MIN_BUNDLES",
    "NODE_BUDGET",
    "ROUNDS",
    "SUB_GAP",
    "SearchTooLong",
    "Start",
    "hull_start",
    "integer_optima",
]

_KERNEL_VERSION: Final = 2  # gateway/venue/auction/_hull.c's VERSION: the signature called here
if getattr(_hull, "VERSION", None) != _KERNEL_VERSION:
    raise ImportError(
        f"gateway.venue.auction._hull is version {getattr(_hull, 'VERSION', None)}, "
        f"hull.py needs {_KERNEL_VERSION}: reinstall (pip install -e .) to rebuild it"
    )

#: Parts with fewer bundles are solved without the start. Measured on the bench's
#: generator (docs/auction.md): from 300 bundles the start was faster in all eight books
#: tried; at 200 its sub-MIP leaves ~40% of the bundles free (about 100 at every size),
#: took up to 4 s and gave a fill below HiGHS's own; at 100 HiGHS needs ~75 ms of cut
#: rounds for its bound even when handed the optimum.
MIN_BUNDLES: Final = 300
#: The most column-generation rounds (the bench's 500-bundle books converged in 6-11).
ROUNDS: Final = 12
#: The sub-MIP's relative gap: HiGHS's bound on the whole model, after the cut rounds
#: that a good start lets it stop at, is ~0.05% above the optimum, so the start has to
#: be about that close for the auction's 1e-3 to be reached there.
SUB_GAP: Final = 3e-4
#: The most search nodes one pricing round may visit over all its bundles. The search is
#: exponential in the worst case (8 legs of 10^5 lots, a narrow band), and it holds the
#: venue's solver thread: past the budget the start is given up and HiGHS runs alone.
#: A budget, not a clock, so the start depends on the book alone. Measured: a round
#: over the bench's 500- and 1,000-bundle books visits at most 8,000 and 11,000 nodes
#: (2-4 ms); one 8-leg bundle of 10^5 lots a leg in a narrow band needed more than
#: 5·10^6 (0.2 s, unfinished), and this budget stops it in 0.04 s.
NODE_BUDGET: Final = 1_000_000
#: The most legs and own rows a bundle may have (the kernel's MAX_N and MAX_M).
MAX_LEGS: Final = 8
MAX_ROWS: Final = 4

_Floats = npt.NDArray[np.float64]
_Ints = npt.NDArray[np.intp]


@dataclass(frozen=True, slots=True)
class Start:
    """A start for HiGHS: every column's value (whole where the column is integer), and
    how it was found (for the log and the tests)."""

    values: list[float]
    rounds: int  # column-generation rounds run
    fixed: int  # bundles the sub-MIP held at one pattern
    free: int  # bundles it left free


class SearchTooLong(RuntimeError):
    """The kernel visited more search nodes than its budget (:data:`NODE_BUDGET`)."""


def integer_optima(
    r: _Floats,
    u: _Floats,
    g: _Floats,
    lo: _Floats,
    hi: _Floats,
    *,
    budget: int = NODE_BUDGET,
) -> tuple[_Floats, _Floats]:
    """Each problem ``max r.x`` s.t. ``lo <= g.x <= hi``, ``x`` whole in ``[0, u]``, exactly:
    ``r`` and ``u`` are (problems, n), ``g`` (problems, m, n), ``lo`` and ``hi``
    (problems, m), with ``n <= MAX_LEGS`` and ``m <= MAX_ROWS``. Returns the optima
    (problems, n) and their values (``-inf`` where none is feasible);
    :class:`SearchTooLong` when the searches together need more than ``budget`` nodes."""
    problems, n = r.shape
    m = g.shape[1]
    r_, u_, g_, lo_, hi_ = (np.asarray(a, dtype=np.float64).tobytes() for a in (r, u, g, lo, hi))
    x, values, nodes = _hull.solve(problems, n, m, r_, u_, g_, lo_, hi_, budget)
    if nodes > budget:
        raise SearchTooLong(f"{problems} bundles' own programs need more than {budget} nodes")
    return (
        np.frombuffer(x, dtype=np.float64).reshape(problems, n).copy(),
        np.frombuffer(values, dtype=np.float64).copy(),
    )


@dataclass(slots=True)
class _Arrays:
    """The model's matrix as numpy arrays, by row (CSR) and by column (CSC)."""

    cost: _Floats
    lower: _Floats
    upper: _Floats
    row_lower: _Floats
    row_upper: _Floats
    row_of: _Ints  # per nonzero, its row
    col_of: _Ints  # per nonzero, its column
    value: _Floats
    row_starts: _Ints  # CSR: nonzeros of row i at row_starts[i]:row_starts[i + 1]
    by_column: _Ints  # nonzeros sorted by column
    col_starts: _Ints  # CSC: by_column[col_starts[j]:col_starts[j + 1]]

    @classmethod
    def of(cls, model: Model) -> _Arrays:
        matrix = model.matrix
        n, rows = len(matrix.cost), len(matrix.starts)
        row_starts = np.asarray([*matrix.starts, len(matrix.index)], dtype=np.intp)
        col_of = np.asarray(matrix.index, dtype=np.intp)
        by_column = np.argsort(col_of, kind="stable")
        return cls(
            cost=np.asarray(matrix.cost, dtype=np.float64),
            lower=np.asarray(matrix.lower, dtype=np.float64),
            upper=np.asarray(matrix.upper, dtype=np.float64),
            row_lower=np.asarray(matrix.row_lower, dtype=np.float64),
            row_upper=np.asarray(matrix.row_upper, dtype=np.float64),
            row_of=np.repeat(np.arange(rows, dtype=np.intp), np.diff(row_starts)),
            col_of=col_of,
            value=np.asarray(matrix.value, dtype=np.float64),
            row_starts=row_starts,
            by_column=by_column,
            col_starts=np.searchsorted(col_of[by_column], np.arange(n + 1)).astype(np.intp),
        )


def _highs(model: Model, options: Mapping[str, str | bool]) -> Any:
    """A quiet one-thread HiGHS holding ``model``, with ``options``."""
    h = quiet_highs(**options)
    if model.matrix.to_highs(h):
        return None
    return h


def hull_start(model: Model, options: Mapping[str, str | bool], deadline: float) -> Start | None:
    """A start for ``model`` (see the module docstring), or None: when its bundles do
    not fit the kernel, a step fails, the kernel's search passes :data:`NODE_BUDGET`,
    or ``deadline`` (``perf_counter``) passes."""
    try:
        return _start(model, options, deadline)
    except SearchTooLong:
        return None


def _start(model: Model, options: Mapping[str, str | bool], deadline: float) -> Start | None:
    shape = _Shape.of(model)
    if shape is None:
        return None
    relaxed = _relaxation(model, options, deadline)
    if relaxed is None:
        return None
    x_lp, y_lp = relaxed
    bounds = _Bounds.around(shape, x_lp)
    if bounds is None:
        return None
    generated = _generate(shape, bounds, y_lp, deadline)
    if generated is None:
        return None
    return _sub_mip(
        model, options, shape=shape, bounds=bounds, generated=generated, deadline=deadline
    )


@dataclass(slots=True)
class _Shape:
    """Which columns are legs of which bundle, and which rows are a bundle's own."""

    a: _Arrays
    legs: list[list[int]]  # per bundle, its legs' columns
    order: npt.NDArray[np.bool_]  # per column: a bundle's leg
    binary: npt.NDArray[np.bool_]  # per column: an integer column that is not an order
    continuous: npt.NDArray[np.bool_]
    own: npt.NDArray[np.bool_]  # per row: one bundle's own
    own_rows: list[list[int]]  # per bundle

    @classmethod
    def of(cls, model: Model) -> _Shape | None:
        legs = [[order.col for order in entry.legs.values()] for entry in model.entries]
        if not legs or any(len(cols) > MAX_LEGS for cols in legs):
            return None
        a = _Arrays.of(model)
        n, rows = len(a.cost), len(a.row_lower)
        owner = np.full(n, -1, dtype=np.intp)  # the bundle a column is a leg of
        for index, cols in enumerate(legs):
            owner[cols] = index
        continuous = np.zeros(n, dtype=bool)
        continuous[model.matrix.continuous] = True
        orders = np.zeros(n, dtype=bool)
        orders[[o.col for o in model.orders]] = True
        # A bundle's own row: every column one of its legs.
        counts = np.diff(a.row_starts)
        first = np.full(rows, -1, dtype=np.intp)
        nonempty = counts > 0
        first[nonempty] = owner[a.col_of[a.row_starts[:-1][nonempty]]]
        same = np.ones(rows, dtype=bool)
        np.logical_and.at(same, a.row_of, owner[a.col_of] == first[a.row_of])
        own = same & (first >= 0) & nonempty
        own_rows: list[list[int]] = [[] for _ in legs]
        for row in np.flatnonzero(own):
            own_rows[int(first[row])].append(int(row))
        if any(len(r) > MAX_ROWS for r in own_rows):
            return None
        return cls(a, legs, owner >= 0, ~orders & ~continuous, continuous, own, own_rows)


def _relaxation(
    model: Model, options: Mapping[str, str | bool], deadline: float
) -> tuple[_Floats, _Floats] | None:
    """The LP relaxation's optimum and row duals, or None."""
    h = _highs(model, options)
    if h is None:
        return None
    h.setOptionValue("solve_relaxation", True)
    h.setOptionValue("time_limit", max(deadline - time.perf_counter(), 0.001))
    h.run()
    if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        return None
    solution = h.getSolution()
    return (
        np.asarray(solution.col_value, dtype=np.float64),
        np.asarray(solution.row_dual, dtype=np.float64),
    )


@dataclass(slots=True)
class _Bounds:
    """Column bounds with the binaries whole at the LP fixed, and the rows left for the
    master (a row with one free column left is a bound on it instead)."""

    lower: _Floats
    upper: _Floats
    master: _Ints

    @classmethod
    def around(cls, shape: _Shape, x_lp: _Floats) -> _Bounds | None:
        a = shape.a
        lower, upper = a.lower.copy(), a.upper.copy()
        whole = shape.binary & (np.abs(x_lp - np.round(x_lp)) <= 1e-6)
        lower[whole] = upper[whole] = np.round(x_lp[whole])
        free = lower < upper
        master: list[int] = []
        for row in np.flatnonzero(~shape.own):
            span = slice(a.row_starts[row], a.row_starts[row + 1])
            cols, values = a.col_of[span], a.value[span]
            open_ = free[cols]
            if open_.sum() > 1:
                master.append(int(row))
            elif open_.any():  # with none open, it holds at the LP's point
                col, coef = int(cols[open_][0]), float(values[open_][0])
                rest = float(values[~open_] @ lower[cols[~open_]])
                low, high = a.row_lower[row] - rest, a.row_upper[row] - rest
                if coef < 0:
                    low, high, coef = -high, -low, -coef
                low, high = low / coef, high / coef
                if not shape.continuous[col]:  # whole bounds; infinite sides stay so
                    high = math.floor(high + 1e-9) if math.isfinite(high) else high
                    low = math.ceil(low - 1e-9) if math.isfinite(low) else low
                upper[col], lower[col] = min(upper[col], high), max(lower[col], low)
        if np.any(lower > upper) or np.any(lower[shape.order] != 0):
            return None  # the kernel's columns start at 0
        return cls(lower, upper, np.asarray(master, dtype=np.intp))


@dataclass(slots=True)
class _Generated:
    """The master's optimum: per bundle its patterns with a positive weight, the other
    columns (``columns``) and their values, and the rounds run."""

    weights: list[list[tuple[float, _Floats]]]
    columns: _Ints
    values: _Floats
    rounds: int


def _generate(shape: _Shape, bounds: _Bounds, y_lp: _Floats, deadline: float) -> _Generated | None:
    """Column generation from the LP's duals, at most :data:`ROUNDS` rounds."""
    sub = _Subproblems(shape, bounds.upper)
    master = _Master(shape, bounds)
    master.price(sub, y_lp[bounds.master], np.full(len(shape.legs), -np.inf))
    rounds = 0
    while rounds < ROUNDS:
        if time.perf_counter() > deadline or not master.solve(primal=rounds > 0):
            return None
        rounds += 1
        if not master.price(sub, *master.duals()):
            break
    if time.perf_counter() > deadline or not master.solve(primal=True):
        return None
    weights, values = master.solution()
    return _Generated(weights, master.other_cols, values, rounds)


def _sub_mip(
    model: Model,
    options: Mapping[str, str | bool],
    *,
    shape: _Shape,
    bounds: _Bounds,
    generated: _Generated,
    deadline: float,
) -> Start | None:
    """The RENS-style sub-MIP around the master's optimum (module docstring, step 3)."""
    a, lower, upper = shape.a, bounds.lower.copy(), bounds.upper.copy()
    columns, values = generated.columns, generated.values
    whole = np.abs(values - np.round(values)) <= 1e-6
    fractional = np.zeros(len(a.cost), dtype=bool)
    fractional[columns[shape.binary[columns] & ~whole]] = True
    tied = np.zeros(len(a.cost), dtype=bool)  # legs in a master row with such a binary
    for row in bounds.master:
        span = a.col_of[a.row_starts[row] : a.row_starts[row + 1]]
        if fractional[span].any():
            tied[span[shape.order[span]]] = True
    settle = shape.binary[columns] & whole
    lower[columns[settle]] = upper[columns[settle]] = np.round(values[settle])
    fixed = 0
    for index, cols in enumerate(shape.legs):
        mix = generated.weights[index]
        if not mix:
            upper[cols] = 0
        elif len(mix) == 1 and mix[0][0] > 1 - 1e-7 and not np.any(tied[cols] & (mix[0][1] > 0)):
            lower[cols] = upper[cols] = mix[0][1]
            fixed += 1
        else:
            lower[cols], upper[cols] = a.lower[cols], a.upper[cols]
    s = _highs(model, {**options, "presolve": "on"})
    left = deadline - time.perf_counter()
    if s is None or left <= 0:
        return None
    s.setOptionValue("mip_rel_gap", SUB_GAP)
    s.setOptionValue("time_limit", left)
    n = len(a.cost)
    every = np.arange(n, dtype=np.int32)
    s.changeColsBounds(n, every, lower, upper)
    s.changeColsCost(n, every, -np.round(a.cost))  # HiGHS minimises the negation
    s.run()
    if s.getInfo().primal_solution_status != 2:  # kSolutionStatusFeasible
        return None
    found = np.asarray(s.getSolution().col_value, dtype=np.float64)
    found[~shape.continuous] = np.round(found[~shape.continuous])
    used = sum(1 for mix in generated.weights if mix)
    return Start(found.tolist(), generated.rounds, fixed, used - fixed)


class _Subproblems:
    """Every bundle's own integer program, padded to one size for the kernel."""

    def __init__(self, shape: _Shape, upper: _Floats) -> None:
        a, legs, own_rows = shape.a, shape.legs, shape.own_rows
        count = len(legs)
        self.n = max(len(cols) for cols in legs)
        self.m = max(1, *(len(rows) for rows in own_rows))
        self.cols = np.zeros((count, self.n), dtype=np.intp)
        self.real = np.zeros((count, self.n), dtype=bool)
        self.u = np.zeros((count, self.n))
        self.g = np.zeros((count, self.m, self.n))
        self.lo = np.full((count, self.m), -np.inf)
        self.hi = np.full((count, self.m), np.inf)
        for index, cols in enumerate(legs):
            k = len(cols)
            self.cols[index, :k] = cols
            self.real[index, :k] = True
            self.u[index, :k] = upper[list(cols)]
            slot = {col: j for j, col in enumerate(cols)}
            for q, row in enumerate(own_rows[index]):
                span = slice(a.row_starts[row], a.row_starts[row + 1])
                for col, coef in zip(a.col_of[span], a.value[span], strict=True):
                    self.g[index, q, slot[int(col)]] = coef
                self.lo[index, q], self.hi[index, q] = a.row_lower[row], a.row_upper[row]

    def solve(self, reduced: _Floats) -> tuple[_Floats, _Floats]:
        """Each bundle's best whole fill at the legs' ``reduced`` costs, and its value."""
        r = np.where(self.real, reduced[self.cols], 0.0)
        return integer_optima(r, self.u, self.g, self.lo, self.hi)


class _Master:
    """The restricted master LP of the column generation, kept in one HiGHS instance
    (each round adds columns and re-solves from the last basis)."""

    def __init__(self, shape: _Shape, bounds: _Bounds) -> None:
        a, mrows, lower, upper = shape.a, bounds.master, bounds.lower, bounds.upper
        self.a, self.mrows, self.bundles = a, mrows, len(shape.legs)
        bundles = self.bundles
        self.position = np.full(len(a.row_lower), -1, dtype=np.intp)
        self.position[mrows] = np.arange(len(mrows))
        self.nm = len(mrows)
        others = ~shape.order
        h = quiet_highs()
        none = np.zeros(0, dtype=np.int32)
        h.addRows(
            self.nm + bundles,
            np.concatenate([a.row_lower[mrows], np.zeros(bundles)]),
            np.concatenate([a.row_upper[mrows], np.ones(bundles)]),
            0,
            none,
            none,
            np.zeros(0),
        )
        self.other_cols = np.flatnonzero(others).astype(np.intp)
        starts, index, value = self._entries(self.other_cols, np.ones(len(self.other_cols)))
        h.addCols(
            len(self.other_cols),
            -a.cost[self.other_cols],
            lower[self.other_cols],
            upper[self.other_cols],
            len(index),
            starts,
            index,
            value,
        )
        self.h = h
        self.patterns: list[tuple[int, _Floats]] = []
        self.seen: list[set[bytes]] = [set() for _ in range(bundles)]

    def _entries(
        self, cols: _Ints, scale: _Floats, bundle: Sequence[int] | None = None
    ) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.int32], _Floats]:
        """Column entries in the master rows of each column ``cols[i]`` times
        ``scale[i]``; with ``bundle``, grouped into one column per bundle run, each
        with a 1 in its convexity row."""
        a = self.a
        starts: list[int] = []
        index: list[int] = []
        value: list[float] = []
        for i, col in enumerate(cols):
            if bundle is None or i == 0 or bundle[i] != bundle[i - 1]:
                if bundle is not None and i:
                    index.append(self.nm + bundle[i - 1])
                    value.append(1.0)
                starts.append(len(index))
            span = a.by_column[a.col_starts[col] : a.col_starts[col + 1]]
            where = self.position[a.row_of[span]]
            keep = where >= 0
            index.extend(where[keep].tolist())
            value.extend((a.value[span][keep] * scale[i]).tolist())
        if bundle is not None and len(cols):
            index.append(self.nm + bundle[-1])
            value.append(1.0)
        return (
            np.asarray(starts, dtype=np.int32),
            np.asarray(index, dtype=np.int32),
            np.asarray(value, dtype=np.float64),
        )

    def price(self, sub: _Subproblems, duals: _Floats, convexity: _Floats) -> int:
        """Add every bundle's best fill at the master rows' ``duals`` that improves on
        its ``convexity`` dual and is new; how many were added."""
        a = self.a
        keep = self.position[a.row_of] >= 0
        reduced = a.cost + np.bincount(
            a.col_of[keep],
            weights=a.value[keep] * duals[self.position[a.row_of[keep]]],
            minlength=len(a.cost),
        )
        x, values = sub.solve(reduced)
        cols: list[int] = []
        scale: list[float] = []
        bundle: list[int] = []
        cost: list[float] = []
        for index in range(self.bundles):
            fill = x[index]
            if values[index] <= convexity[index] + 1e-6 or not fill.any():
                continue
            key = fill.tobytes()
            if key in self.seen[index]:
                continue
            self.seen[index].add(key)
            self.patterns.append((index, fill[sub.real[index]]))
            nonzero = np.flatnonzero(fill)
            if not len(nonzero):
                continue
            cols.extend(sub.cols[index, nonzero].tolist())
            scale.extend(fill[nonzero].tolist())
            bundle.extend([index] * len(nonzero))
            cost.append(float(a.cost[sub.cols[index, sub.real[index]]] @ fill[sub.real[index]]))
        if not cost:
            return 0
        starts, idx, value = self._entries(
            np.asarray(cols, dtype=np.intp), np.asarray(scale), bundle
        )
        k = len(cost)
        self.h.addCols(k, -np.asarray(cost), np.zeros(k), np.ones(k), len(idx), starts, idx, value)
        return k

    def solve(self, *, primal: bool) -> bool:
        """Re-solve the master (primal simplex from the last basis after new columns);
        whether it is optimal."""
        if primal:
            self.h.setOptionValue("simplex_strategy", 4)
        self.h.run()
        return bool(self.h.getModelStatus() == highspy.HighsModelStatus.kOptimal)

    def duals(self) -> tuple[_Floats, _Floats]:
        """The master rows' duals and the convexity rows' (as the bundles' values)."""
        dual = np.asarray(self.h.getSolution().row_dual, dtype=np.float64)
        return dual[: self.nm], -dual[self.nm :]

    def solution(self) -> tuple[list[list[tuple[float, _Floats]]], _Floats]:
        """Per bundle its patterns with a positive weight, and the other columns' values."""
        values = np.asarray(self.h.getSolution().col_value, dtype=np.float64)
        others = values[: len(self.other_cols)]
        weights: list[list[tuple[float, _Floats]]] = [[] for _ in range(self.bundles)]
        for (index, fill), weight in zip(
            self.patterns, values[len(self.other_cols) :], strict=True
        ):
            if weight > 1e-7:
                weights[index].append((float(weight), fill))
        return weights, others
