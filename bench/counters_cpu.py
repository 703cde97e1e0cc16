"""The counters function's CPU per 1,000-record stream batch, DynamoDB answered at once.

What bounds the records per second one stream shard drains is the CPU the function
spends per batch: turning records into deltas, and building, signing, sending and
parsing each UpdateItem. On DynamoDB Local (`bench.run`) that CPU is measured while the
engine works on the same cores; here every request goes over HTTP to `bench.standin`,
which answers at once with DynamoDB's reply to a successful UpdateItem, so what is timed
is the function alone: the layer and its DynamoDB client (UpdateItem on
`storage.DirectUpdates`), HTTP included, in this process and in every worker process
of `tally.fanout` (`--processes`, as a function with one vCPU per 1,769 MB of memory
runs them).

    python -m bench.counters_cpu [--batches N] [--processes 1,2,4]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import statistics
import subprocess
import sys
import time
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from bench import dataset, harness
from tally import fanout
from tally.config import reset_settings
from tally_dev.engine import free_port, wait_until_answers


@contextlib.contextmanager
def answered_at_once() -> Iterator[None]:
    """The service's DynamoDB is `bench.standin`, in a process of its own."""
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "bench.standin", str(port)])  # noqa: S603 - this interpreter, a fixed command
    saved = os.environ.get("AWS_ENDPOINT_URL")
    os.environ["AWS_ENDPOINT_URL"] = f"http://127.0.0.1:{port}"
    harness.reset_caches()
    try:
        wait_until_answers(os.environ["AWS_ENDPOINT_URL"], 15, server)
        yield
    finally:
        fanout.stop()
        server.kill()
        server.wait()
        if saved is None:
            os.environ.pop("AWS_ENDPOINT_URL", None)
        else:
            os.environ["AWS_ENDPOINT_URL"] = saved
        harness.reset_caches()


def _worker_cpu() -> dict[int, float]:
    """CPU seconds so far of each live worker process (Linux /proc)."""
    ticks = os.sysconf("SC_CLK_TCK")
    spent = {}
    for pid in fanout.worker_pids():
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        spent[pid] = (int(fields[11]) + int(fields[12])) / ticks
    return spent


@dataclass
class BatchCost:
    wall: float
    total_cpu: float
    busiest_cpu: float  # the process that spent most: what bounds the batch at one vCPU each


def batch_costs(batches: Sequence[list[dict[str, Any]]]) -> list[BatchCost]:
    """Wall time and CPU of the counters handler per batch (Lambda-format records)."""
    costs = []
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.filterwarnings("ignore", "No application metrics to publish")
        for records in batches:
            workers_before = _worker_cpu()
            started, cpu_started = time.perf_counter(), time.process_time()
            harness.invoke("counters", {"Records": records})
            wall, own = time.perf_counter() - started, time.process_time() - cpu_started
            shares = [own] + [
                spent - workers_before.get(pid, 0.0) for pid, spent in _worker_cpu().items()
            ]
            costs.append(BatchCost(wall, sum(shares), max(shares)))
    return costs


def workloads(batches: int) -> list[tuple[str, list[dataset.Item]]]:
    clock, stamp = dataset.clock_stamp()
    return [
        ("one busy account", dataset.busy_items(0, batches * dataset.BATCH, clock, stamp)),
        ("100 accounts x 10 events", dataset.workload_items("a100", 100, batches, clock, stamp)),
        ("1,000 accounts x 1 event", dataset.workload_items("a1000", 1000, batches, clock, stamp)),
        ("Zipf mix over 10,000 accounts", dataset.zipf_items(batches, clock, stamp)),
    ]


@dataclass(frozen=True)
class ProcessRun:
    """Medians over a workload's batches, with `processes` processes."""

    workload: str
    processes: int
    total_cpu: float
    busiest_cpu: float
    wall: float

    @property
    def records_per_second(self) -> float:
        """One shard's drain rate with a vCPU per process: the busiest process bounds it."""
        return dataset.BATCH / self.busiest_cpu


def measure(batches: int, process_counts: Sequence[int]) -> list[ProcessRun]:
    runs = []
    with harness.environment(), answered_at_once():
        try:
            for name, items in workloads(batches):
                sequencer = dataset.Sequencer()
                records = [dataset.stream_record(item, sequencer) for item in items]
                split = list(dataset.batches(records))
                for processes in process_counts:
                    os.environ["TALLY_COUNTER_PROCESSES"] = str(processes)
                    reset_settings()
                    # A warm function: the workers are started and have imported the layer.
                    batch_costs(split[:1])
                    costs = batch_costs(split)
                    runs.append(
                        ProcessRun(
                            name,
                            processes,
                            statistics.median(cost.total_cpu for cost in costs),
                            statistics.median(cost.busiest_cpu for cost in costs),
                            statistics.median(cost.wall for cost in costs),
                        )
                    )
        finally:
            os.environ.pop("TALLY_COUNTER_PROCESSES", None)
            reset_settings()
    return runs


def table(runs: Sequence[ProcessRun]) -> list[str]:
    lines = [
        "| workload | processes | CPU ms per batch, all processes | busiest process CPU ms "
        "| records/s per shard, a vCPU per process | wall ms on this machine |",
        "|---|---|---|---|---|---|",
    ]
    for run in runs:
        lines.append(
            f"| {run.workload} | {run.processes} | {run.total_cpu * 1000:,.0f} "
            f"| {run.busiest_cpu * 1000:,.0f} | {run.records_per_second:,.0f} "
            f"| {run.wall * 1000:,.0f} |"
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.counters_cpu", description=__doc__)
    parser.add_argument("--batches", type=int, default=3, help="1,000-record batches per workload")
    parser.add_argument("--processes", default="1", help="process counts to compare, e.g. 1,2,3")
    args = parser.parse_args(argv)
    counts = [int(count) for count in args.processes.split(",")]
    print("\n".join(table(measure(args.batches, counts))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
