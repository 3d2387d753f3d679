"""The fair pool: one client's backlog never queues another client behind it."""

from __future__ import annotations

import threading

from gateway.router.pool import FairPool, Job, Share

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


def test_a_client_over_its_worker_time_share_waits_behind_others() -> None:
    """Client A has used its second of worker time; B's job goes first although A's
    were queued earlier. With only A waiting, A's jobs still run (no idle worker)."""
    now = [0.0]
    order: list[str] = []
    lock = threading.Lock()
    gate = threading.Event()
    all_done = threading.Event()

    def job(name: str, cost: float) -> Job:
        def run() -> object:
            if name == "A0":
                assert gate.wait(DEADLINE)
            with lock:
                now[0] += cost  # the job "took" this long on the pool's clock
            return name

        def done(result: object, error: BaseException | None) -> None:
            assert error is None
            with lock:
                order.append(str(result))
                if len(order) == 4:
                    all_done.set()

        return Job(run, done)

    pool = FairPool(
        1,
        share=lambda client: Share(seconds_per_second=1.0),
        clock=lambda: now[0],
    )
    try:
        pool.submit("A", job("A0", cost=5.0))  # runs first and spends 5 s of budget
        pool.submit("A", job("A1", cost=0.0))
        pool.submit("A", job("A2", cost=0.0))
        pool.submit("B", job("B1", cost=0.0))
        gate.set()
        assert all_done.wait(DEADLINE)
        # Round-robin alone would run A1 right after B1 in turn order (A1, B1, A2 or
        # B1, A1, A2); over its share, A waits until B is served, then runs alone.
        assert order == ["A0", "B1", "A1", "A2"], order
    finally:
        pool.close()


def test_a_client_at_its_running_cap_is_passed_over() -> None:
    release = threading.Event()
    started: list[str] = []
    lock = threading.Lock()
    first_started = threading.Event()
    blocker_gate, a_gate = threading.Event(), threading.Event()
    both_running = threading.Barrier(3)

    def job(name: str) -> Job:
        def run() -> object:
            with lock:
                started.append(name)
                first_started.set()
            assert release.wait(DEADLINE)
            return name

        return Job(run, lambda result, error: None)

    def hold(gate: threading.Event) -> Job:
        def run() -> object:
            both_running.wait(DEADLINE)
            return gate.wait(DEADLINE)

        return Job(run, lambda result, error: None)

    pool = FairPool(2, share=lambda client: Share(max_running=1))
    try:
        pool.submit("X", hold(blocker_gate))  # both workers busy: X's job and A's
        pool.submit("A", hold(a_gate))
        both_running.wait(DEADLINE)
        pool.submit("A", job("A1"))  # queued first
        pool.submit("B", job("B1"))
        blocker_gate.set()  # one worker frees; A still has one job running
        assert first_started.wait(DEADLINE)
        with lock:
            assert started == ["B1"], started  # B1 went first: A was at its cap
    finally:
        blocker_gate.set()
        a_gate.set()
        release.set()
        pool.close()
