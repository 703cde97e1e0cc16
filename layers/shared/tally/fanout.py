"""Work split over worker processes: the counters function's CPU past one vCPU.

botocore's work per request (building, signing and parsing one UpdateItem, ~0.45 ms)
holds the GIL, so threads overlap DynamoDB's latency but not that CPU, and a batch of
1,000 accounts with one event each needs ~6,000 requests. Lambda gives a function one
vCPU per 1,769 MB of memory (up to 6); only processes use more than one.

Workers are fresh interpreters (`python -m tally.fanout`), started on first use and kept
by the warm execution environment, not `multiprocessing`: Lambda has no /dev/shm (Pool
and Queue need it), its spawn start method re-imports the parent's main script (Lambda's
runtime bootstrap), and fork would copy a process whose I/O threads may hold locks.
A job is a pickle of (function, arguments) on the worker's stdin, its outcome a pickle of
(succeeded, value) on the worker's stdout; everything else the worker prints goes to stderr
(the function's log).
"""

from __future__ import annotations

import logging
import os
import pickle
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import IO, Any, TypeVar, cast

R = TypeVar("R")
log = logging.getLogger(__name__)


@dataclass
class _Pool:
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)
    # Set while a run waits for its shares; still set when a run begins if the last one
    # never ended (its invocation timed out), whose workers may still be busy with its jobs.
    running: bool = False


_pool = _Pool()


class WorkerLost(RuntimeError):
    """A worker process ended while it had a job; its work may be partly done."""


def run(function: Callable[..., R], shares: Sequence[tuple[Any, ...]]) -> list[R]:
    """`function(*share)` for every share, results in order: the first share in this
    process, the others in workers, all at once. `function` must be importable by name.

    Every share ends before an error is raised (the first one's, in share order), so no
    share is cut short by another's failure."""
    if not shares:
        return []
    if _pool.running:
        stop()
    _pool.running = True
    outcomes = _run(function, shares)
    _pool.running = False
    return _results(outcomes)


def _run(function: Callable[..., Any], shares: Sequence[tuple[Any, ...]]) -> list[tuple[bool, Any]]:
    try:
        workers = _started(len(shares) - 1)
    except OSError:
        # No worker can start here (no interpreter to run): the work is still done, here.
        log.warning("worker processes unavailable; every share runs here", exc_info=True)
        return [_outcome(function, share) for share in shares]
    lost = [
        _send(worker, (function, share)) for worker, share in zip(workers, shares[1:], strict=True)
    ]
    outcomes = [_outcome(function, shares[0])]
    for worker, failed in zip(workers, lost, strict=True):
        outcomes.append((False, failed) if failed else _receive(worker))
    return outcomes


def _outcome(function: Callable[..., Any], arguments: tuple[Any, ...]) -> tuple[bool, Any]:
    try:
        return True, function(*arguments)
    except Exception as error:
        return False, error


def _results(outcomes: list[tuple[bool, Any]]) -> list[Any]:
    for succeeded, value in outcomes:
        if not succeeded:
            raise value
    return [value for _, value in outcomes]


def _started(count: int) -> list[subprocess.Popen[bytes]]:
    """`count` live workers, starting the missing ones (they boot concurrently)."""
    _pool.workers[:] = [worker for worker in _pool.workers if worker.poll() is None]
    missing = count - len(_pool.workers)
    if missing > 0:
        # The worker imports what the parent can: Lambda puts the layer on sys.path, not
        # on PYTHONPATH.
        path = os.pathsep.join(entry for entry in sys.path if entry)
        environment = {**os.environ, "PYTHONPATH": path}
        _pool.workers.extend(
            subprocess.Popen(
                [sys.executable, "-m", "tally.fanout"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                env=environment,
            )
            for _ in range(missing)
        )
    return _pool.workers[:count]


def _send(worker: subprocess.Popen[bytes], job: tuple[Any, ...]) -> WorkerLost | None:
    try:
        jobs = cast(IO[bytes], worker.stdin)
        jobs.write(pickle.dumps(job, pickle.HIGHEST_PROTOCOL))
        jobs.flush()
    except OSError as error:
        return _lost(worker, error)
    return None


def _receive(worker: subprocess.Popen[bytes]) -> tuple[bool, Any]:
    try:
        # The other end of the pipe is a worker this process started.
        return cast(tuple[bool, Any], pickle.load(cast(IO[bytes], worker.stdout)))  # noqa: S301
    except (OSError, EOFError, pickle.UnpicklingError) as error:
        return False, _lost(worker, error)


def _lost(worker: subprocess.Popen[bytes], error: BaseException) -> WorkerLost:
    worker.kill()
    worker.wait()
    return WorkerLost(f"worker process {worker.pid} ended (exit {worker.returncode}): {error!r}")


def worker_pids() -> list[int]:
    """Process ids of the workers started so far and still running."""
    return [worker.pid for worker in _pool.workers if worker.poll() is None]


def stop() -> None:
    """End every worker (they end on their own when this process does)."""
    while _pool.workers:
        worker = _pool.workers.pop()
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
            function, arguments = pickle.load(jobs)  # noqa: S301 - from the parent
        except EOFError:
            return
        succeeded, value = _outcome(function, arguments)
        try:
            message = pickle.dumps((succeeded, value), pickle.HIGHEST_PROTOCOL)
        except Exception as error:  # an exception that cannot be pickled: keep its text
            message = pickle.dumps((False, RuntimeError(f"{value!r} ({error})")))
        outcomes.write(message)
        outcomes.flush()


if __name__ == "__main__":
    _serve()
