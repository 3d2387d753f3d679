"""A fair worker pool: per-client FIFO queues served round-robin.

Strategy builds and pre-solves run here, off the state owner. A client with
work waiting takes its turn in a ring; a worker that frees up serves the next
client in the ring, one job, and puts that client back at the end if it has
more. So a client flooding the gateway delays another client's job by at most
the jobs already running when it arrived (one solve time with two workers),
never by its whole backlog (docs/architecture.md, "Threads").
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass

import structlog

__all__ = ["FairPool", "Job"]

log = structlog.get_logger("bidgw.gateway")


@dataclass(frozen=True, slots=True)
class Job:
    """``run`` on a worker, then ``done`` with its result or the exception it raised."""

    run: Callable[[], object]
    done: Callable[[object, BaseException | None], None]


class FairPool:
    """``workers`` threads over per-client queues; see the module docstring."""

    def __init__(self, workers: int, *, name: str = "bidgw-pool") -> None:
        self._lock = threading.Condition()
        self._queues: dict[Hashable, deque[Job]] = {}
        self._ring: deque[Hashable] = deque()  # clients with queued jobs, in turn order
        self._closed = False
        self._running = 0
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

    def _next(self) -> Job | None:
        with self._lock:
            while not self._ring:
                if self._closed:
                    return None
                self._lock.wait()
            client = self._ring.popleft()
            queue = self._queues[client]
            job = queue.popleft()
            if queue:
                self._ring.append(client)
            else:
                del self._queues[client]
            self._running += 1
            return job

    def _serve(self) -> None:
        while (job := self._next()) is not None:
            result: object = None
            error: BaseException | None = None
            try:
                result = job.run()
            except BaseException as exc:  # a job's failure is its own result
                error = exc
            finally:
                with self._lock:
                    self._running -= 1
            try:
                job.done(result, error)
            except BaseException as exc:  # a worker must never die
                log.error("pool.done_failed", error=f"{type(exc).__name__}: {exc}", exc_info=True)
