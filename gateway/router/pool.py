"""A fair worker pool: per-client FIFO queues served round-robin.

Strategy builds and pre-solves run here, off the state owner. A client with
work waiting takes its turn in a ring; a worker that frees up serves the next
client in the ring, one job, and puts that client back at the end if it has
more. So a client flooding the gateway delays another client's job by at most
the jobs already running when it arrived (one solve time with two workers),
never by its whole backlog (docs/architecture.md, "Threads").

Two per-client caps (:class:`Share`) decide who goes first among the clients
waiting: a client already running ``max_running`` jobs, or that has used more
than ``seconds_per_second`` of worker time per second (a token bucket with one
second of burst), is passed over while another client has work. Neither cap
leaves a worker idle: when only capped clients wait, the first of them is served.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass

import structlog

__all__ = ["FairPool", "Job", "Share"]

log = structlog.get_logger("bidgw.gateway")


@dataclass(frozen=True, slots=True)
class Job:
    """``run`` on a worker, then ``done`` with its result or the exception it raised."""

    run: Callable[[], object]
    done: Callable[[object, BaseException | None], None]


@dataclass(frozen=True, slots=True)
class Share:
    """A client's fair share of the workers (None: no cap)."""

    max_running: int | None = None
    seconds_per_second: float | None = None


class _Usage:
    """A client's running jobs and its worker-time budget (a token bucket)."""

    __slots__ = ("budget", "running", "stamp")

    def __init__(self, now: float) -> None:
        self.running = 0
        self.budget = 0.0  # seconds of worker time still in hand, refilled by the rate
        self.stamp = now


class FairPool:
    """``workers`` threads over per-client queues; see the module docstring."""

    def __init__(
        self,
        workers: int,
        *,
        name: str = "bidgw-pool",
        share: Callable[[Hashable], Share] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._lock = threading.Condition()
        self._queues: dict[Hashable, deque[Job]] = {}
        self._ring: deque[Hashable] = deque()  # clients with queued jobs, in turn order
        self._closed = False
        self._running = 0
        self._share = share
        self._clock = clock
        self._usage: dict[Hashable, _Usage] = {}
        self._threads = [
            threading.Thread(target=self._serve, name=f"{name}-{i}", daemon=True)
            for i in range(workers)
        ]
        for thread in self._threads:
            thread.start()

    def submit(self, client: Hashable, job: Job) -> None:
        with self._lock:
            if self._closed:
                raise RuntimeError("the pool is closed")
            queue = self._queues.get(client)
            if queue is None:
                queue = self._queues[client] = deque()
            if not queue:
                self._ring.append(client)
            queue.append(job)
            self._lock.notify()

    def pending(self) -> int:
        """Jobs queued or running."""
        with self._lock:
            return self._running + sum(len(q) for q in self._queues.values())

    def close(self, timeout: float = 10.0) -> list[Job]:
        """Stop taking jobs; wait for the running ones; return the ones never started."""
        with self._lock:
            self._closed = True
            abandoned = [job for client in self._ring for job in self._queues[client]]
            self._queues.clear()
            self._ring.clear()
            self._lock.notify_all()
        for thread in self._threads:
            thread.join(timeout)
        return abandoned

    def _next(self) -> tuple[Hashable, Job] | None:
        with self._lock:
            while not self._ring:
                if self._closed:
                    return None
                self._lock.wait()
            client = self._pick()
            self._ring.remove(client)
            queue = self._queues[client]
            job = queue.popleft()
            if queue:
                self._ring.append(client)
            else:
                del self._queues[client]
            self._running += 1
            if self._share is not None:
                self._usage_of(client).running += 1
            return client, job

    def _pick(self) -> Hashable:
        """The first client in turn within its share, else the first in turn."""
        if self._share is None or len(self._ring) == 1:
            return self._ring[0]
        for client in self._ring:
            share = self._share(client)
            usage = self._usage_of(client)
            if share.max_running is not None and usage.running >= share.max_running:
                continue
            if share.seconds_per_second is not None and self._budget(usage, share) <= 0:
                continue
            return client
        return self._ring[0]

    def _usage_of(self, client: Hashable) -> _Usage:
        usage = self._usage.get(client)
        if usage is None:
            usage = self._usage[client] = _Usage(self._clock())
            share = self._share(client) if self._share is not None else Share()
            usage.budget = share.seconds_per_second or 0.0
        return usage

    def _budget(self, usage: _Usage, share: Share) -> float:
        rate = share.seconds_per_second or 0.0
        now = self._clock()
        usage.budget = min(rate, usage.budget + (now - usage.stamp) * rate)
        usage.stamp = now
        return usage.budget

    def _serve(self) -> None:
        while (taken := self._next()) is not None:
            client, job = taken
            result: object = None
            error: BaseException | None = None
            started = self._clock()
            try:
                result = job.run()
            except BaseException as exc:  # a job's failure is its own result
                error = exc
            finally:
                with self._lock:
                    self._running -= 1
                    if self._share is not None:
                        usage = self._usage_of(client)
                        usage.running -= 1
                        share = self._share(client)
                        self._budget(usage, share)  # refill up to now, then spend
                        usage.budget -= self._clock() - started
            try:
                job.done(result, error)
            except BaseException as exc:  # a worker must never die
                log.error("pool.done_failed", error=f"{type(exc).__name__}: {exc}", exc_info=True)
