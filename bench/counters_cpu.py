"""The counters function's own CPU per 1,000-record stream batch, DynamoDB answered at once.

What bounds the records per second one stream shard drains on a 1-vCPU Lambda is
the CPU the function spends per batch: turning records into deltas, and building,
signing, sending and parsing each UpdateItem. On DynamoDB Local (`bench.run`) that
CPU is measured while the engine works on the same two cores; here every request is
answered as soon as botocore would send it, with DynamoDB's reply to a successful
UpdateItem (an empty JSON object), so what is timed is the handler alone: the layer,
botocore's serialization, signing and parsing, everything but the network.

    python -m bench.counters_cpu [--batches N]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import statistics
import time
import warnings
from collections.abc import Iterator, Sequence
from typing import Any

from bench import dataset, harness
from tally import storage


class _Body:
    """The raw body botocore reads a reply from."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._data

    def read(self, *_: Any, **__: Any) -> bytes:
        return self._data


def _answer_at_once(request: Any, **_: Any) -> Any:
    from botocore.awsrequest import AWSResponse

    return AWSResponse(request.url, 200, {"x-amzn-requestid": "bench"}, _Body(b"{}"))


@contextlib.contextmanager
def answered_at_once() -> Iterator[None]:
    """`tally.storage`'s client gets DynamoDB's empty success reply to every request."""
    client = storage.client()
    client.meta.events.register_first("before-send.dynamodb", _answer_at_once, "bench-now")
    try:
        yield
    finally:
        client.meta.events.unregister("before-send.dynamodb", unique_id="bench-now")


def batch_cpu(batches: Sequence[list[dict[str, Any]]]) -> list[float]:
    """Process CPU seconds of the counters handler per batch (Lambda-format records)."""
    spent = []
    with (
        answered_at_once(),
        contextlib.redirect_stdout(io.StringIO()),
        warnings.catch_warnings(),
    ):
        warnings.filterwarnings("ignore", "No application metrics to publish")
        for records in batches:
            started = time.process_time()
            harness.invoke("counters", {"Records": records})
            spent.append(time.process_time() - started)
    return spent


def workloads(batches: int) -> list[tuple[str, list[dataset.Item]]]:
    clock, stamp = dataset.clock_stamp()
    return [
        ("one busy account", dataset.busy_items(0, batches * dataset.BATCH, clock, stamp)),
        ("100 accounts x 10 events", dataset.workload_items("a100", 100, batches, clock, stamp)),
        ("1,000 accounts x 1 event", dataset.workload_items("a1000", 1000, batches, clock, stamp)),
        ("Zipf mix over 10,000 accounts", dataset.zipf_items(batches, clock, stamp)),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.counters_cpu", description=__doc__)
    parser.add_argument("--batches", type=int, default=3, help="1,000-record batches per workload")
    args = parser.parse_args(argv)
    print("| workload | CPU ms per 1,000-record batch | records/s per shard at 1 vCPU |")
    print("|---|---|---|")
    # The bench's settings; no request leaves the process, so no engine runs.
    with harness.environment():
        for name, items in workloads(args.batches):
            sequencer = dataset.Sequencer()
            records = [dataset.stream_record(item, sequencer) for item in items]
            cpu = statistics.median(batch_cpu(list(dataset.batches(records))))
            print(f"| {name} | {cpu * 1000:,.0f} | {dataset.BATCH / cpu:,.0f} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
