"""The layer's own CPU per read call, with DynamoDB answered from memory.

A `Replay` client stands in front of `tally.storage`'s client: the first call of
each read request goes to the backend and its response is kept; later identical
requests are answered from memory. What is timed is the whole handler
invocation (Powertools resolver, auth with the warm key cache, the stats code,
the response) in process CPU time, minus the replay's own bookkeeping; what is
left out is botocore's request serialization and response parsing, and the
network. `python -m bench.cpu --profile` prints a pyinstrument profile of the
two target routes.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import io
import statistics
import sys
import threading
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from unittest import mock

from bench import dataset, endpoints, harness
from tally import storage

# The target routes: the 30-day channel daily series and the 1-month dashboard.
TARGETS = (
    ("/api/v1/connect-hub/{channel}/stats", "whatsapp daily"),
    ("/v1/stats", "scope=1month"),
)
TARGET_MS = 3.0
_READS = frozenset({"get_item", "batch_get_item", "query"})


class Replay:
    """A DynamoDB client that answers repeated read requests from memory."""

    def __init__(self, real: Any) -> None:
        self._real = real
        self._answers: dict[tuple[str, str], Any] = {}
        self._local = threading.local()
        self._lock = threading.Lock()
        self.overhead = 0.0  # CPU seconds spent in the replay itself
        self.misses = 0

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._real, name)
        if name not in _READS:
            return method

        def answer(**params: Any) -> Any:
            started = time.thread_time()
            key = (name, repr(params))
            found = self._answers.get(key)
            spent = time.thread_time() - started
            if found is None:
                found = self._answers[key] = method(**params)
                self.misses += 1
            with self._lock:
                self.overhead += spent
            return found

        return answer


@contextlib.contextmanager
def replaying(real: Any) -> Iterator[Replay]:
    """`tally.storage` talks to a Replay in front of `real` while inside."""
    replay = Replay(real)

    # A plain function, not a MagicMock: the mock's call recording was ~0.1 ms of a
    # dashboard call's measured CPU, none of it Tally's.
    def client() -> Replay:
        return replay

    with mock.patch.object(storage, "client", new=client):
        yield replay


@dataclass
class CpuMeasurement:
    call: endpoints.Call
    median_ms: float
    p95_ms: float
    misses: int  # requests not answered from memory on the timed calls (must be 0)


def measure(bench: harness.Backend, call: endpoints.Call, key: str, repeats: int) -> CpuMeasurement:
    """Median CPU of `repeats` warm calls answered from memory (after two warm-up calls)."""
    event = call.event(key)
    timings = []
    with (
        replaying(storage.client()) as replay,
        contextlib.redirect_stdout(io.StringIO()),
        warnings.catch_warnings(),
    ):
        warnings.filterwarnings("ignore", "No application metrics to publish")
        for _ in range(2):
            harness.invoke(call.group, dict(event))
        warm_misses = replay.misses
        # The collector leaves what exists now alone (moto's tables, the loaded events):
        # a Lambda process holds none of it, and scanning it was charged to the call timed.
        gc.collect()
        gc.freeze()
        for _ in range(repeats):
            copy = dict(event)
            replay.overhead = 0.0
            started = time.process_time()
            harness.invoke(call.group, copy)
            timings.append((time.process_time() - started - replay.overhead) * 1000)
    ordered = sorted(timings)
    return CpuMeasurement(
        call=call,
        median_ms=statistics.median(timings),
        p95_ms=ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))],
        misses=replay.misses - warm_misses,
    )


def profile(bench: harness.Backend, call: endpoints.Call, key: str, repeats: int) -> str:
    """A pyinstrument profile (text) of `repeats` calls answered from memory."""
    from pyinstrument import Profiler

    event = call.event(key)
    profiler = Profiler(interval=0.0001)
    with replaying(storage.client()), contextlib.redirect_stdout(io.StringIO()):
        harness.invoke(call.group, dict(event))
        profiler.start()
        for _ in range(repeats):
            harness.invoke(call.group, dict(event))
        profiler.stop()
    text: str = profiler.output_text(unicode=False, color=False, show_all=False)
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.cpu", description=__doc__)
    parser.add_argument("--events", type=int, default=10_000, help="busy-account events loaded")
    parser.add_argument(
        "--over-days",
        type=float,
        help="spread the events evenly over this many days (default: 1,000 a minute), so "
        "that every bucket a 30-day read asks for holds data",
    )
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--profile", action="store_true", help="pyinstrument the target routes")
    parser.add_argument("--targets", action="store_true", help="measure only the two target routes")
    parser.add_argument("--output", type=Path, help="also write the table here (Markdown)")
    args = parser.parse_args(argv)
    from tally.keys import bootstrap_key

    with harness.backend() as bench:
        discovery = endpoints.discover()
        key = bootstrap_key(dataset.BUSY, endpoints.READ_SCOPES, "bench").secret
        clock, stamp = dataset.clock_stamp()
        step = timedelta(days=args.over_days) / args.events if args.over_days else dataset.STEP
        items = [
            *dataset.fixed_items(clock, stamp),
            *dataset.busy_items(0, args.events, clock, stamp, step),
        ]
        harness.load(bench, items, dataset.Sequencer())
        measured: list[CpuMeasurement] = []
        for call in discovery.calls:
            is_target = (call.resource, call.label) in TARGETS
            if args.targets and not is_target:
                continue
            if args.profile:
                if is_target:
                    print(f"== {call.method} {call.resource} {call.label}")
                    print(profile(bench, call, key, args.repeats))
                continue
            found = measure(bench, call, key, args.repeats)
            measured.append(found)
            print(
                f"{found.median_ms:7.2f} ms  p95 {found.p95_ms:7.2f}  misses {found.misses}  "
                f"{call.method} {call.resource} {call.label}"
            )
    if args.output and measured:
        args.output.write_text(report(measured, args, argv))
    return 0


def report(measured: list[CpuMeasurement], args: argparse.Namespace, argv: list[str] | None) -> str:
    """The measurements as Markdown, with the command and the dataset that produced them."""
    spread = f"spread evenly over {args.over_days:g} days" if args.over_days else "1,000 a minute"
    lines = [
        "# Layer CPU per read call",
        "",
        f"`python -m bench.cpu {' '.join(argv if argv is not None else sys.argv[1:])}`, "
        f"{date.today().isoformat()}: {args.events:,} busy-account events {spread}, every "
        f"read route and scope called {args.repeats} times warm with DynamoDB answered from "
        f"memory (see the module docstring). Target: the two routes marked, at most "
        f"{TARGET_MS:g} ms median.",
        "",
        "| route | scope | median ms | p95 ms |",
        "|---|---|---|---|",
    ]
    for found in measured:
        call = found.call
        mark = " (target)" if (call.resource, call.label) in TARGETS else ""
        lines.append(
            f"| `{call.method} {call.resource}` | {call.label}{mark} "
            f"| {found.median_ms:.2f} | {found.p95_ms:.2f} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
