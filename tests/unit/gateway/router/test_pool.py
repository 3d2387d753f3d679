"""The fair pool: one client's backlog never queues another client behind it."""

from __future__ import annotations

import threading

from gateway.router.pool import FairPool, Job

DEADLINE = 10.0


def test_a_flooding_client_delays_another_only_by_the_jobs_already_running() -> None:
    release = threading.Event()
    order: list[str] = []
    finished = threading.Event()
    lock = threading.Lock()

    def job(name: str, *, block: bool) -> Job:
        def run() -> object:
            if block:
                assert release.wait(DEADLINE)
            return name

        def done(result: object, error: BaseException | None) -> None:
            assert error is None
            with lock:
                order.append(str(result))
                if result == "B1":
                    finished.set()

        return Job(run, done)

    pool = FairPool(2)
    try:
        for i in range(20):  # client A floods: 2 run at once and block, 18 wait
            pool.submit("A", job(f"A{i}", block=True))
        pool.submit("B", job("B1", block=False))
        release.set()
        assert finished.wait(DEADLINE)
        with lock:
            position = order.index("B1")
        # B's job ran right after the two A jobs that were running when it arrived,
        # give or take the one A job a freed worker took in the same instant.
        assert position <= 3, order
    finally:
        release.set()
        pool.close()


def test_a_failing_job_reports_its_error_and_the_worker_survives() -> None:
    results: list[tuple[object, BaseException | None]] = []
    done_all = threading.Event()

    def boom() -> object:
        raise ValueError("bad bundle")

    def record(result: object, error: BaseException | None) -> None:
        results.append((result, error))
        if len(results) == 2:
            done_all.set()

    pool = FairPool(1)
    try:
        pool.submit("A", Job(boom, record))
        pool.submit("A", Job(lambda: "ok", record))
        assert done_all.wait(DEADLINE)
    finally:
        pool.close()
    assert isinstance(results[0][1], ValueError)
    assert results[1] == ("ok", None)


def test_close_returns_the_jobs_never_started() -> None:
    release = threading.Event()
    started = threading.Event()

    def blocking() -> object:
        started.set()
        assert release.wait(DEADLINE)
        return None

    pool = FairPool(1)
    pool.submit("A", Job(blocking, lambda r, e: None))
    assert started.wait(DEADLINE)
    waiting = [Job(lambda: None, lambda r, e: None) for _ in range(3)]
    for item in waiting:
        pool.submit("B", item)
    threading.Timer(0.05, release.set).start()
    abandoned = pool.close()
    assert abandoned == waiting
