"""Pre-solves in solver processes that are killed at a hard deadline.

HiGHS checks its time limit only at certain points of its search; a model can
keep it inside one step (root separation was seen running for minutes, at
100% CPU, on a two-leg bundle) where no time limit or interrupt is looked at,
and a thread cannot be stopped from outside. So the gateway's pre-solves run
in child processes: a call that has not answered by its hard deadline
(``presolve.kill_after_ms``) is abandoned, its process killed and replaced,
and the bundle gets a :attr:`~gateway.solver.presolve.Outcome.TIMEOUT` verdict
that says so. A worker thread is never held longer than that.

The children come from a ``forkserver`` that has imported the pre-solver once,
so a replacement starts in milliseconds, not the second a fresh interpreter
needs to import PuLP and HiGHS; and they are never forked from the gateway's
own threads (forking a process with QuickFIX's threads is unsafe).

Most bundles never reach a process: :meth:`SolverSandbox.check` first runs the
pre-solver's fast path (:meth:`~gateway.solver.presolve.PreSolver.quick`) on
the calling thread. It is pure Python with a bounded amount of work
(:data:`gateway.solver.fast.DECIDE_BUDGET`, ~10 ms at worst), so it needs no
deadline. What a process costs when a solver is needed: the bundle and the
verdict are pickled through a pipe (~0.06 ms for a 3-leg bundle), and the call
wakes two processes; on the 2-core machine measured, +0.4 to +0.9 ms per
pre-solve at p50 (bench/presolve.py, "highs, solver process").

The children import the parent's ``__main__`` module once, in the forkserver
(multiprocessing's rule): a script that embeds the gateway needs the
``if __name__ == "__main__":`` guard, or every solver process runs it.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import threading
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from multiprocessing.context import ForkServerContext
from multiprocessing.process import BaseProcess
from multiprocessing.reduction import ForkingPickler
from typing import Any, cast

import structlog

from gateway.core.bundle import OrderBundle
from gateway.solver.presolve import Outcome, PresolveConfig, PreSolver, Verdict

__all__ = ["SandboxClosed", "SolverSandbox"]

log = structlog.get_logger("bidgw.solver")

_PRELOAD = ["gateway.solver.presolve"]


class SandboxClosed(RuntimeError):
    """The sandbox was closed (the gateway is stopping) before the pre-solve answered."""


def _context() -> ForkServerContext:
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(_PRELOAD)
    return context


_PRESOLVER: PreSolver | None = None  # the solver process's own, set by _serve


def _presolve(bundle: OrderBundle) -> Verdict:
    assert _PRESOLVER is not None
    try:
        return _PRESOLVER.check(bundle)
    except Exception as exc:  # an unexpected failure is this bundle's verdict
        return Verdict(
            outcome=Outcome.SOLVER_ERROR,
            reason=f"pre-solve failed: {type(exc).__name__}: {exc}",
            solver=_PRESOLVER.config.solver,
        )


def _serve(connection: Connection, config: PresolveConfig) -> None:
    """A solver process: run each call received, send back its result (or the
    exception it raised)."""
    global _PRESOLVER  # noqa: PLW0603 - one pre-solver per process, by design
    _PRESOLVER = PreSolver(config)
    while True:
        try:
            fn, args = connection.recv()
        except (EOFError, OSError):
            return  # the parent closed its end or went away
        try:
            result: object = (True, fn(*args))
        except Exception as exc:
            result = (False, exc)
        connection.send(result)


class _Child:
    """One solver process and the parent's end of its pipe."""

    def __init__(self, context: ForkServerContext, config: PresolveConfig) -> None:
        parent, child = context.Pipe(duplex=True)
        self.connection: Connection = parent
        self.process: BaseProcess = context.Process(
            target=_serve, args=(child, config), name="bidgw-solver", daemon=True
        )
        self.process.start()
        child.close()

    def kill(self) -> None:
        with contextlib.suppress(Exception):
            self.process.kill()
        with contextlib.suppress(Exception):
            self.process.join(5)
        with contextlib.suppress(Exception):
            self.connection.close()


class SolverSandbox:
    """``processes`` solver processes shared by the gateway's pool workers.

    :meth:`check` has :meth:`PreSolver.check`'s contract, plus a hard deadline.
    Thread-safe: a worker takes an idle process for the duration of one call.
    """

    def __init__(self, config: PresolveConfig, processes: int) -> None:
        self.config = config
        self._quick = PreSolver(config)  # the fast path, run on the caller's thread
        self._context = _context()
        self._lock = threading.Condition()
        self._idle: list[_Child] = []
        self._busy: set[_Child] = set()
        self._closed = False
        self.killed = 0  # processes killed at their deadline (or found dead)
        for _ in range(processes):
            self._idle.append(_Child(self._context, config))

    @property
    def kill_after(self) -> float:
        """Seconds a pre-solve may run before its process is killed."""
        return self.config.kill_after_ms / 1000

    def check(self, bundle: OrderBundle) -> Verdict:
        """Pre-solve ``bundle``: on the calling thread when no solver is needed
        (:meth:`PreSolver.quick`, bounded pure Python), else in a solver process
        within the hard deadline.

        Raises:
            SandboxClosed: the sandbox was closed before or during the call.
        """
        if self._closed:
            raise SandboxClosed("the solver sandbox is closed")
        try:
            quick = self._quick.quick(bundle)
        except Exception:  # a defect in the fast path: the solver process decides
            log.exception("presolve.fast_path_failed", bundle_id=bundle.bundle_id)
            quick = None
        if quick is not None:
            return quick
        return self.call(_presolve, bundle)

    def call(self, fn: Callable[..., Verdict], *args: Any) -> Verdict:
        """``fn(*args)`` in a solver process, within the hard deadline: its verdict,
        or a TIMEOUT / SOLVER_ERROR verdict when the process was killed or died.

        ``fn`` and ``args`` are pickled (``fn`` by module and name); an exception
        ``fn`` raises is re-raised here.

        Raises:
            SandboxClosed: the sandbox was closed before or during the call.
        """
        child = self._take()
        started = time.perf_counter()
        try:
            # Pickled whole before anything is written, as Connection.send does.
            payload = ForkingPickler.dumps((fn, args))
        except BaseException:  # PicklingError, TypeError, AttributeError...: nothing sent
            self._give_back(child)
            raise
        try:
            child.connection.send_bytes(payload)
        except OSError as exc:
            return self._replace(child, self._lost(child, exc, started))
        try:
            answered = child.connection.poll(self.kill_after)
            ok, result = child.connection.recv() if answered else (False, None)
        except (EOFError, OSError) as exc:
            return self._replace(child, self._lost(child, exc, started))
        if not answered:
            return self._replace(child, self._overdue(started))
        self._give_back(child)
        if not ok:
            raise cast(BaseException, result)
        return cast(Verdict, result)

    def close(self) -> None:
        """Kill every solver process; calls in progress raise :class:`SandboxClosed`."""
        with self._lock:
            self._closed = True
            children = [*self._idle, *self._busy]
            self._idle.clear()
            self._lock.notify_all()
        for child in children:
            child.kill()

    # internals ----------------------------------------------------------------------------
    def _take(self) -> _Child:
        with self._lock:
            while not self._idle and not self._closed:
                self._lock.wait()
            if self._closed:
                raise SandboxClosed("the solver sandbox is closed")
            child = self._idle.pop()
            self._busy.add(child)
            return child

    def _give_back(self, child: _Child) -> None:
        with self._lock:
            self._busy.discard(child)
            if self._closed:
                child.kill()
                return
            self._idle.append(child)
            self._lock.notify()

    def _replace(self, child: _Child, verdict: Verdict) -> Verdict:
        """Kill ``child``, start its replacement, and answer ``verdict``."""
        with self._lock:
            closed = self._closed
        child.kill()
        if closed:
            with self._lock:
                self._busy.discard(child)
            raise SandboxClosed("the gateway stopped during the pre-solve")
        self.killed += 1
        fresh = _Child(self._context, self.config)
        with self._lock:
            self._busy.discard(child)
            if self._closed:
                fresh.kill()
                raise SandboxClosed("the gateway stopped during the pre-solve")
            self._idle.append(fresh)
            self._lock.notify()
        return verdict

    def _overdue(self, started: float) -> Verdict:
        waited = (time.perf_counter() - started) * 1000
        log.error(
            "presolve.killed",
            kill_after_ms=self.config.kill_after_ms,
            waited_ms=round(waited, 1),
        )
        return Verdict(
            outcome=Outcome.TIMEOUT,
            solver=self.config.solver,
            solve_ms=waited,
            reason=(
                f"the solver did not answer within the hard deadline of "
                f"{self.config.kill_after_ms} ms and was stopped; feasibility unknown"
            ),
        )

    def _lost(self, child: _Child, exc: BaseException, started: float) -> Verdict:
        with self._lock:
            closed = self._closed
        if closed:
            raise SandboxClosed("the gateway stopped during the pre-solve")
        child.process.join(1)  # it is gone or going: read how it ended
        code: Any = child.process.exitcode
        log.error("presolve.process_died", exitcode=code, error=f"{type(exc).__name__}: {exc}")
        return Verdict(
            outcome=Outcome.SOLVER_ERROR,
            solver=self.config.solver,
            solve_ms=(time.perf_counter() - started) * 1000,
            reason=f"the solver process died (exit code {code}) during the pre-solve",
        )
