"""Work split over worker processes: the counters function's CPU past one vCPU.

botocore's work per request (building, signing and parsing one UpdateItem, ~0.45 ms)
holds the GIL, so threads overlap DynamoDB's latency but not that CPU, and a batch of
1,000 accounts with one event each needs ~6,000 requests. Lambda gives a function one
vCPU per 1,769 MB of memory (up to 6); only processes use more than one.

Workers are fresh interpreters (`python -m tally.fanout`), started on first use and kept
by the warm execution environment, not `multiprocessing`: Lambda has no /dev/shm (Pool
and Queue need it), its spawn start method re-imports the parent's main script (Lambda's
runtime bootstrap), and fork would copy a process whose I/O threads may hold locks.
A job is a pickle of (number, function, arguments) on the worker's stdin, its outcome a
pickle of (number, succeeded, value) on the worker's stdout; everything else the worker
prints goes to stderr (the function's log). The number lets the parent pass over the
outcome of a job it stopped waiting for (an invocation that timed out while the warm
environment, and its workers, lived on).
"""

from __future__ import annotations

import itertools
import os
import pickle
import subprocess
import sys
from collections.abc import Callable, Sequence
from typing import IO, Any, TypeVar, cast

R = TypeVar("R")

_workers: list[subprocess.Popen[bytes]] = []
_job_numbers = itertools.count()


class WorkerLost(RuntimeError):
    """A worker process ended while it had a job; its work may be partly done."""


def run(function: Callable[..., R], shares: Sequence[tuple[Any, ...]]) -> list[R]:
    """`function(*share)` for every share, results in order: the first share in this
    process, the others in workers, all at once. `function` must be importable by name.

    Every share ends before an error is raised (the first one's, in share order), so no
    share is cut short by another's failure."""
    if not shares:
        return []
    workers = _started(len(shares) - 1)
    sent: list[tuple[int, WorkerLost | None]] = []
    for worker, share in zip(workers, shares[1:], strict=True):
        number = next(_job_numbers)
        sent.append((number, _send(worker, (number, function, share))))
    outcomes: list[tuple[bool, Any]] = []
    try:
        outcomes.append((True, function(*shares[0])))
    except Exception as error:
        outcomes.append((False, error))
    for worker, (number, lost) in zip(workers, sent, strict=True):
        outcomes.append((False, lost) if lost else _receive(worker, number))
    for succeeded, value in outcomes:
        if not succeeded:
            raise value
    return [value for _, value in outcomes]


def _started(count: int) -> list[subprocess.Popen[bytes]]:
    """`count` live workers, starting the missing ones (they boot concurrently)."""
    _workers[:] = [worker for worker in _workers if worker.poll() is None]
    # The worker imports what the parent can: Lambda puts the layer on sys.path, not on
    # PYTHONPATH.
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join(path for path in sys.path if path)}
    while len(_workers) < count:
        _workers.append(
            subprocess.Popen(
                [sys.executable, "-m", "tally.fanout"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                env=environment,
            )
        )
    return _workers[:count]


def _send(worker: subprocess.Popen[bytes], job: tuple[Any, ...]) -> WorkerLost | None:
    try:
        jobs = cast(IO[bytes], worker.stdin)
        jobs.write(pickle.dumps(job, pickle.HIGHEST_PROTOCOL))
        jobs.flush()
    except OSError as error:
        return _lost(worker, error)
    return None


def _receive(worker: subprocess.Popen[bytes], number: int) -> tuple[bool, Any]:
    try:
        while True:
            # The other end of the pipe is a worker this process started.
            answered, succeeded, value = pickle.load(cast(IO[bytes], worker.stdout))  # noqa: S301
            if answered == number:
                return succeeded, value
    except (OSError, EOFError, pickle.UnpicklingError) as error:
        return False, _lost(worker, error)


def _lost(worker: subprocess.Popen[bytes], error: BaseException) -> WorkerLost:
    worker.kill()
    worker.wait()
    return WorkerLost(f"worker process {worker.pid} ended (exit {worker.returncode}): {error!r}")


def stop() -> None:
    """End every worker (they end on their own when this process does)."""
    while _workers:
        worker = _workers.pop()
        worker.kill()
        worker.wait()


def _serve() -> None:
    """A worker's loop: run jobs from stdin until it closes, outcomes to stdout."""
    outcomes = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    # Logs and prints of the jobs go to stderr, never into the outcome stream.
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    jobs = sys.stdin.buffer
    while True:
        try:
            number, function, arguments = pickle.load(jobs)  # noqa: S301 - from the parent
        except EOFError:
            return
        try:
            outcome: tuple[int, bool, Any] = (number, True, function(*arguments))
        except Exception as error:
            outcome = (number, False, error)
        try:
            message = pickle.dumps(outcome, pickle.HIGHEST_PROTOCOL)
        except Exception as error:  # an exception that cannot be pickled: keep its text
            message = pickle.dumps((number, False, RuntimeError(f"{outcome[2]!r} ({error})")))
        outcomes.write(message)
        outcomes.flush()


if __name__ == "__main__":
    _serve()
