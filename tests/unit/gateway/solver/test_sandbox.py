"""The solver sandbox: real solver processes, a real HiGHS solve that ignores its
time limit, killed at the hard deadline."""

from __future__ import annotations

import os
import pickle
import threading
from collections.abc import Iterator
from decimal import Decimal
from types import MappingProxyType

import pulp
import pytest

from gateway.core.bundle import Constraint, Leg, OrderBundle, Sense, Side
from gateway.solver.milp import SolverSettings, scaled_rows, solve
from gateway.solver.presolve import Outcome, PresolveConfig, PreSolver, Verdict
from gateway.solver.sandbox import SandboxClosed, SolverSandbox

DEADLINE = 30.0  # seconds: every wait here is bounded by it

CONFIG = PresolveConfig(time_limit_ms=300, kill_after_ms=1500)


def hedge(a: int, b: int, *, max_qty: int = 1000) -> OrderBundle:
    """Two legs, ``a·AAAA + b·BBBB == 0``."""
    return two_legs(Decimal(a), Decimal(b), Sense.EQ, max_qty=max_qty)


def two_legs(
    a: Decimal, b: Decimal, sense: Sense, rhs: Decimal = Decimal(0), *, max_qty: int = 1000
) -> OrderBundle:
    """Two legs, ``a·AAAA + b·BBBB (sense) rhs``, lots of 1."""
    return OrderBundle(
        bundle_id="B",
        legs=(
            Leg(symbol="AAAA", side=Side.BUY, max_qty=max_qty, limit_price=Decimal(10), lot_size=1),
            Leg(
                symbol="BBBB", side=Side.SELL, max_qty=max_qty, limit_price=Decimal(20), lot_size=1
            ),
        ),
        constraints=(Constraint(name="hedge", coefficients=(a, b), sense=sense, rhs=rhs),),
        metadata={"client": "DESK1"},
    )


def unbounded_highs_solve(bundle: OrderBundle) -> Verdict:
    """The smallest-fill model of the original wedge, with the legs' limits raised to
    ~3e9 lots and its row handed to HiGHS in whole numbers: HiGHS stays in root
    separation far past its 0.3 s limit (the pre-solver no longer builds this model:
    it refuses such limits and divides large rows down; it is the solver hang the
    sandbox is for)."""
    [row] = scaled_rows(bundle, bundle.constraints)
    bound = max(abs(a) for a in row.coefficients)
    problem = pulp.LpProblem("wedge", pulp.LpMinimize)
    variables = [
        problem.add_variable(f"n{i}", 0, max(leg.max_lots, bound), cat=pulp.const.LpInteger)
        for i, leg in enumerate(bundle.legs)
    ]
    problem.setObjective(pulp.lpSum(variables))
    problem += pulp.lpSum(a * v for a, v in zip(row.coefficients, variables, strict=True)) == 0
    problem += pulp.lpSum(variables) >= 1
    solve(problem, variables, SolverSettings(integer_objective=True, small_model=True), 0.3)
    return Verdict(outcome=Outcome.FEASIBLE, reason="HiGHS returned")


def milp_check(bundle: OrderBundle) -> Verdict:
    """The MILP path only, so that a call really runs in the solver process."""
    return PreSolver(PresolveConfig(fast_path=False)).check(bundle)


def die(_bundle: OrderBundle) -> Verdict:
    os._exit(3)


def fail(_bundle: OrderBundle) -> Verdict:
    raise ValueError("bad bundle")


@pytest.fixture
def sandbox() -> Iterator[SolverSandbox]:
    box = SolverSandbox(CONFIG, processes=1)
    yield box
    box.close()


def bounded(fn: object, *args: object) -> object:
    """Run ``fn(*args)`` on a thread; fail the test if it has not returned by DEADLINE."""
    result: list[object] = []

    def target() -> None:
        try:
            result.append(fn(*args))  # type: ignore[operator]
        except BaseException as exc:
            result.append(exc)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(DEADLINE)
    assert not thread.is_alive(), "the call did not return by the deadline"
    return result[0]


def test_check_gives_the_in_process_verdict(sandbox: SolverSandbox) -> None:
    bundle = hedge(4, -36)
    verdict = sandbox.check(bundle)
    assert verdict.outcome is Outcome.FEASIBLE
    assert verdict.max_fill == PreSolver(CONFIG).check(bundle).max_fill


def test_check_decides_on_the_fast_path_or_in_a_process(sandbox: SolverSandbox) -> None:
    # A hedge ratio needs no solver; a minimum total with a non-homogeneous row does.
    assert sandbox.check(hedge(4, -36)).path == "fast"
    needs_milp = two_legs(Decimal(1), Decimal(1), Sense.GE, Decimal(10))
    verdict = sandbox.check(needs_milp)
    assert verdict.path == "milp"
    assert verdict.max_total == 2000


def test_a_solver_that_ignores_its_time_limit_is_killed_and_replaced(
    sandbox: SolverSandbox,
) -> None:
    verdict = bounded(sandbox.call, unbounded_highs_solve, hedge(1000000007, -3000000027))
    assert isinstance(verdict, Verdict)
    assert verdict.outcome is Outcome.TIMEOUT
    assert "hard deadline of 1500 ms" in (verdict.reason or "")
    assert sandbox.killed == 1
    # The replacement answers the next bundle.
    assert sandbox.call(milp_check, hedge(4, -36)).outcome is Outcome.FEASIBLE


def test_a_solver_process_that_dies_is_an_error_verdict(sandbox: SolverSandbox) -> None:
    verdict = sandbox.call(die, hedge(4, -36))
    assert verdict.outcome is Outcome.SOLVER_ERROR
    assert "exit code 3" in (verdict.reason or "")
    assert sandbox.call(milp_check, hedge(4, -36)).outcome is Outcome.FEASIBLE


def test_an_exception_in_the_process_is_raised_in_the_caller(sandbox: SolverSandbox) -> None:
    with pytest.raises(ValueError, match="bad bundle"):
        sandbox.call(fail, hedge(4, -36))
    assert sandbox.call(milp_check, hedge(4, -36)).outcome is Outcome.FEASIBLE


@pytest.mark.parametrize(
    "unpicklable",
    [MappingProxyType({}), lambda: None, threading.Lock()],
    ids=["mappingproxy", "lambda", "lock"],
)
def test_arguments_that_cannot_be_pickled_raise_and_keep_the_process(
    sandbox: SolverSandbox, unpicklable: object
) -> None:
    with pytest.raises((pickle.PicklingError, TypeError, AttributeError)):
        sandbox.call(milp_check, unpicklable)
    # The one process went back to the pool: the next call is answered.
    verdict = bounded(sandbox.call, milp_check, hedge(4, -36))
    assert isinstance(verdict, Verdict)
    assert verdict.outcome is Outcome.FEASIBLE


def test_close_stops_a_running_call(sandbox: SolverSandbox) -> None:
    result: list[object] = []
    started = threading.Event()

    def run() -> None:
        started.set()
        try:
            result.append(sandbox.call(unbounded_highs_solve, hedge(1000000007, -3000000027)))
        except SandboxClosed as exc:
            result.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert started.wait(DEADLINE)
    sandbox.close()
    thread.join(DEADLINE)
    assert not thread.is_alive()
    # Either the call was already running (SandboxClosed) or close() came first (also
    # SandboxClosed, raised when it tried to take a process).
    assert isinstance(result[0], SandboxClosed)
    with pytest.raises(SandboxClosed):
        sandbox.check(hedge(4, -36))


def test_the_wedge_bundle_gets_an_exact_answer_in_process() -> None:
    """The two-leg bundle that once wedged the explanation: now answered by the
    closed form, with the smallest fill named, well within the time limit."""
    verdict = bounded(PreSolver(CONFIG).check, hedge(1000000007, -3000000027))
    assert isinstance(verdict, Verdict)
    assert verdict.outcome is Outcome.INFEASIBLE
    assert "AAAA 3000000027, BBBB 1000000007" in (verdict.reason or "")


def test_a_model_beyond_doubles_is_unknown_to_the_milp_and_decided_by_the_fast_path() -> None:
    bundle = two_legs(Decimal("3.0000000000000003"), Decimal(-12), Sense.EQ)
    # (10^16 + 1)·A == 4·10^16·B holds no double: the solver's answer is checked in
    # integers and found wanting, and the verdict says feasibility is unknown.
    unsolved = PreSolver(CONFIG.model_copy(update={"fast_path": False})).check(bundle)
    assert unsolved.outcome is Outcome.SOLVER_ERROR
    assert "constraint hedge" in (unsolved.reason or "")
    assert "feasibility unknown" in (unsolved.reason or "")
    # In integers throughout, the fast path proves it and the closed form explains it.
    verdict = PreSolver(CONFIG).check(bundle)
    assert verdict.outcome is Outcome.INFEASIBLE
    assert verdict.path == "fast"
    assert "the smallest fill that does is AAAA 40000000000000000, BBBB 10000000000000001" in (
        verdict.reason or ""
    )
