"""tally.fanout: shares of work in worker processes, outcomes in order, failures surfaced."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator

import pytest

from tally import fanout


@pytest.fixture(autouse=True)
def _fresh_workers() -> Iterator[None]:
    fanout.stop()
    yield
    fanout.stop()


def where(value: int) -> tuple[int, int]:
    return value, os.getpid()


def fail_in_worker(parent: int, message: str) -> str:
    if os.getpid() != parent:
        raise LookupError(message)
    return "parent"


class Unpicklable(Exception):
    def __init__(self) -> None:
        super().__init__("held a lock")
        self.lock = threading.Lock()


def raise_unpicklable(parent: int) -> str:
    if os.getpid() != parent:
        raise Unpicklable
    return "parent"


def die_in_worker(parent: int) -> str:
    if os.getpid() != parent:
        os._exit(3)
    return "parent"


def chatty(value: int) -> int:
    print("a line on stdout that must not reach the outcome stream")
    return value * 2


def test_the_first_share_runs_here_the_others_in_workers_results_in_order():
    results = fanout.run(where, [(0,), (1,), (2,)])
    assert [value for value, _ in results] == [0, 1, 2]
    pids = [pid for _, pid in results]
    assert pids[0] == os.getpid()
    assert len({*pids[1:]}) == 2
    assert os.getpid() not in pids[1:]


def test_workers_are_kept_between_runs():
    first = fanout.run(where, [(0,), (1,)])
    second = fanout.run(where, [(0,), (1,)])
    assert first[1][1] == second[1][1]


def test_one_share_needs_no_worker():
    assert fanout.run(where, [(5,)]) == [(5, os.getpid())]
    assert fanout.run(where, []) == []


def test_a_workers_error_is_raised_here_after_every_share_ended():
    with pytest.raises(LookupError, match="from the worker"):
        fanout.run(fail_in_worker, [(os.getpid(), "x"), (os.getpid(), "from the worker")])
    # The worker lives on and takes the next job.
    assert fanout.run(where, [(0,), (1,)])[1][0] == 1


def test_an_error_that_cannot_be_pickled_arrives_as_its_text():
    with pytest.raises(RuntimeError, match="held a lock"):
        fanout.run(raise_unpicklable, [(os.getpid(),), (os.getpid(),)])


def test_a_worker_that_dies_fails_the_run_and_is_replaced():
    with pytest.raises(fanout.WorkerLost, match="exit 3"):
        fanout.run(die_in_worker, [(os.getpid(),), (os.getpid(),)])
    assert fanout.run(where, [(0,), (1,)])[1][0] == 1


def test_a_worker_killed_between_runs_is_replaced():
    before = fanout.run(where, [(0,), (1,)])[1][1]
    os.kill(before, signal.SIGKILL)
    (worker,) = fanout._pool.workers
    worker.wait()
    value, pid = fanout.run(where, [(0,), (1,)])[1]
    assert value == 1
    assert pid != before


def test_a_workers_prints_do_not_corrupt_its_outcome():
    assert fanout.run(chatty, [(1,), (2,), (3,)]) == [2, 4, 6]


def test_a_run_cut_short_leaves_no_busy_worker_to_the_next(monkeypatch):
    """An invocation that timed out never ended its run; its workers may still be busy
    with its jobs, so the next run starts fresh ones."""
    before = fanout.run(where, [(0,), (1,)])[1][1]
    monkeypatch.setattr(fanout._pool, "running", True)
    value, pid = fanout.run(where, [(0,), (7,)])[1]
    assert value == 7
    assert pid != before
    assert fanout._pool.running is False


def test_without_an_interpreter_to_start_every_share_runs_here(monkeypatch):
    monkeypatch.setattr("sys.executable", "/nonexistent/python")
    assert fanout.run(where, [(0,), (1,)]) == [(0, os.getpid()), (1, os.getpid())]
    with pytest.raises(LookupError, match="here too"):
        fanout.run(fail_in_worker, [(-1, "here too"), (os.getpid(), "")])
