"""A MILP as plain arrays (:class:`Matrix`), and how it reaches HiGHS or PuLP.

The formulations (:mod:`gateway.venue.auction.model`) write their columns and
rows into a :class:`Matrix`; :meth:`Matrix.to_highs` hands it to HiGHS's own
Python API in a few array calls, :meth:`Matrix.to_pulp` turns the same arrays
into a PuLP problem (same columns, same order, same sense), so both interfaces
solve the same model (:mod:`gateway.venue.auction.solvers` runs them).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any, Final

import highspy
import numpy as np
import pulp

__all__ = ["INF", "Matrix", "quiet_highs"]

#: No bound on a row's side.
INF: Final = math.inf


def quiet_highs(**options: str | bool | float) -> Any:
    """A HiGHS instance that prints nothing and runs on one thread (the auction's solves
    share the venue's solver thread; two threads were measured no faster on these
    models, docs/auction.md), with ``options`` set."""
    h: Any = highspy.Highs()  # type: ignore[no-untyped-call]  # highspy leaves it unannotated
    h.setOptionValue("output_flag", False)
    h.setOptionValue("threads", 1)
    for name, value in options.items():
        h.setOptionValue(name, value)
    return h


class Matrix:
    """A MILP as plain arrays: maximise ``Σ cost·x`` over columns with bounds (integer
    unless added as continuous) subject to rows ``lower ≤ Σ a·x ≤ upper``, stored
    row by row. The formulations write into it; :meth:`to_highs` hands it to
    HiGHS in a few array calls and :meth:`to_pulp` turns it into a PuLP problem."""

    def __init__(self) -> None:
        self.cost: list[float] = []
        self.lower: list[float] = []
        self.upper: list[float] = []
        self.continuous: list[int] = []
        self.row_lower: list[float] = []
        self.row_upper: list[float] = []
        self.starts: list[int] = []
        self.index: list[int] = []
        self.value: list[float] = []

    def column(self, upper: float, *, lower: float = 0.0, integer: bool = True) -> int:
        """A new column with cost 0; its index."""
        number = len(self.cost)
        self.cost.append(0.0)
        self.lower.append(lower)
        self.upper.append(upper)
        if not integer:
            self.continuous.append(number)
        return number

    def row(self, terms: Iterable[tuple[int, float]], lower: float, upper: float) -> None:
        """A new row ``lower ≤ Σ a·x ≤ upper`` over ``(column, a)`` terms (zeros left out)."""
        self.starts.append(len(self.index))
        for column, coefficient in terms:
            if coefficient:
                self.index.append(column)
                self.value.append(coefficient)
        self.row_lower.append(lower)
        self.row_upper.append(upper)

    def to_highs(self, h: Any) -> str | None:
        """Pass the model to the HiGHS instance ``h`` as the minimisation of the
        negated objective; what it refused, or None.

        HiGHS refuses values it counts as infinite (a matrix value of 10^15 or
        more) and leaves them out: solving the rest would answer another model.
        """
        count = len(self.cost)
        none = np.empty(0, np.int32)
        # HiGHS minimises the negated objective, as through PuLP (FastHiGHS): the
        # same model in the same sense, so both interfaces take the same search path.
        status = h.addCols(
            count,
            -np.array(self.cost),
            np.array(self.lower),
            np.array(self.upper),
            0,
            none,
            none,
            np.empty(0),
        )
        if status == highspy.HighsStatus.kError:
            return "HiGHS refused the model's columns (a value out of its range)"
        integer = np.ones(count, bool)
        integer[self.continuous] = False
        columns = np.flatnonzero(integer).astype(np.int32)
        if len(columns):
            h.changeColsIntegrality(
                len(columns), columns, np.full(len(columns), highspy.HighsVarType.kInteger)
            )
        if self.starts:
            status = h.addRows(
                len(self.starts),
                np.array(self.row_lower),
                np.array(self.row_upper),
                len(self.index),
                np.array(self.starts, np.int32),
                np.array(self.index, np.int32),
                np.array(self.value, float),
            )
            if status == highspy.HighsStatus.kError:
                return "HiGHS refused the model's rows (a value out of its range)"
        return None

    def to_pulp(self) -> tuple[pulp.LpProblem, list[pulp.LpVariable]]:
        """The same model as a PuLP problem, and its variables by column."""
        problem = pulp.LpProblem("auction", pulp.LpMaximize)
        continuous = set(self.continuous)
        variables = [
            problem.add_variable(
                f"x{number:07d}",
                lower,
                upper,
                cat=pulp.const.LpContinuous if number in continuous else pulp.const.LpInteger,
            )
            for number, (lower, upper) in enumerate(zip(self.lower, self.upper, strict=True))
        ]
        problem.setObjective(
            pulp.LpAffineExpression([(variables[c], a) for c, a in enumerate(self.cost) if a])
        )
        ends = [*self.starts[1:], len(self.index)]
        for number, (start, end) in enumerate(zip(self.starts, ends, strict=True)):
            expression = pulp.LpAffineExpression(
                [(variables[self.index[k]], self.value[k]) for k in range(start, end)]
            )
            lower, upper = self.row_lower[number], self.row_upper[number]
            if lower == upper:
                sense, rhs = pulp.LpConstraintEQ, lower
            elif math.isinf(lower):
                sense, rhs = pulp.LpConstraintLE, upper
            else:
                sense, rhs = pulp.LpConstraintGE, lower
            problem.addConstraint(
                pulp.LpConstraint(expression, sense=sense, rhs=rhs, name=f"r{number:07d}")
            )
        return problem, variables
