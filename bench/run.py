"""`python -m bench.run [--sizes 10000,100000] [--quick]`: the benchmark, end to end.

Builds the datasets on moto (in-process), feeds the busy account's events to
the counters function as 1,000-record stream batches, calls every read
endpoint per scope at each dataset size, runs the naive designs on the same
data, measures handler import times and the layer's size, then prints a
Markdown report and writes it to bench/results.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import coldstart, dataset, endpoints, harness, naive, report
from bench.meter import Usage

RESULTS = Path(__file__).resolve().parent / "results.md"
SOLO_ACCOUNTS = 1000


@dataclass
class WriteStats:
    """Counter writes of a stream of events (cumulative)."""

    events: int = 0
    batches: int = 0
    item_writes: int = 0
    updates: int = 0
    wcu: int = 0
    seconds: float = 0.0
    naive_updates: Counter[str] = field(default_factory=Counter)
    naive_wcu: int = 0
    largest_item: tuple[int, str] = (0, "")  # bytes, key: what a hot item's write costs

    def add(self, usage: Usage, wcu: int, seconds: float, events: int) -> None:
        self.events += events
        self.batches += 1
        self.item_writes += usage.items_written
        self.updates += len(usage.write_keys)
        self.wcu += wcu
        self.seconds += seconds

    def merge(self, other: WriteStats) -> None:
        self.events += other.events
        self.batches += other.batches
        self.item_writes += other.item_writes
        self.updates += other.updates
        self.wcu += other.wcu
        self.seconds += other.seconds

    def copy(self) -> WriteStats:
        return dataclasses.replace(self, naive_updates=Counter(self.naive_updates))


@dataclass
class SizeResult:
    size: int
    total_events: int
    build_seconds: float
    busy: WriteStats
    endpoints: list[endpoints.Measurement]
    raw: dict[tuple[str, str], naive.RawMeasurement]


@dataclass
class Results:
    sizes: list[SizeResult] = field(default_factory=list)
    small: WriteStats = field(default_factory=WriteStats)
    naive_run: naive.NaiveRun | None = None
    naive_run_events: int = 0
    notes: list[str] = field(default_factory=list)
    imports: coldstart.ImportTimes | None = None
    layer: coldstart.LayerSize | None = None


@dataclass(frozen=True)
class Options:
    sizes: list[int]
    repeats: int = 10
    solo_accounts: int = 1000
    small_accounts: int = dataset.SMALL_ACCOUNTS
    small_events: int = dataset.SMALL_EVENTS
    naive_events: int = 2000  # executed per-event design (moto: ~10 ms per UpdateItem)
    cold_runs: int = 7
    cold_start: bool = True
    layer: bool = True
    log: Any = sys.stderr


def _feed(bench: harness.Backend, items: list[dataset.Item], seq: dataset.Sequencer) -> WriteStats:
    stats = WriteStats()
    records = [dataset.stream_record(item, seq) for item in items]
    for batch in dataset.batches(records):
        usage, seconds = harness.feed(bench, batch)
        stats.add(usage, bench.write_units_of(usage), seconds, len(batch))
    return stats


def _naive_costs(bench: harness.Backend, stats: WriteStats, items: list[dataset.Item]) -> None:
    stats.naive_updates.update(naive.per_event_updates(items))
    sizes = naive.counter_sizes(bench, stats.naive_updates)
    stats.naive_wcu = naive.per_event_wcu(stats.naive_updates, sizes)
    stats.largest_item = max(((size, key) for key, size in sizes.items()), default=(0, ""))


def _raw(busy: list[dataset.Item], repeats: int) -> dict[tuple[str, str], naive.RawMeasurement]:
    return {
        route: naive.raw_scan(busy, counting, repeats)
        for route, (_, counting) in naive.RAW_QUERIES.items()
    }


def run(options: Options) -> Results:
    """Build the datasets in increasing size and measure everything at each size."""
    from tally.config import get_settings
    from tally.keys import bootstrap_key

    log = options.log
    results = Results()
    with harness.backend() as bench:
        # Inside the bench's environment: calls with relative dates read the pinned clock.
        discovery = endpoints.discover()
        results.notes.extend(discovery.notes)
        events_table = get_settings().events_table
        key = bootstrap_key(dataset.BUSY, endpoints.READ_SCOPES, "bench").secret
        clock, stamp = dataset.clock_stamp()
        seq = dataset.Sequencer()

        fixed = dataset.fixed_items(clock, stamp, options.small_accounts, options.small_events)
        dataset.write_raw(bench.raw, events_table, fixed)
        _feed(bench, fixed, seq)
        solo = dataset.one_event_accounts(options.solo_accounts, clock, stamp)
        dataset.write_raw(bench.raw, events_table, solo)
        results.small = _feed(bench, solo, seq)
        _naive_costs(bench, results.small, solo)
        print(f"setup and {options.solo_accounts} one-event accounts loaded", file=log)

        # The busy account's partition as the raw scan reads it: its setup items too.
        busy_partition = [item for item in fixed if item["account"] == dataset.BUSY]
        busy = WriteStats()
        loaded = 0
        for size in sorted(options.sizes):
            started = time.perf_counter()
            new = dataset.busy_items(loaded, size, clock, stamp)
            dataset.write_raw(bench.raw, events_table, new)
            busy.merge(_feed(bench, new, seq))
            _naive_costs(bench, busy, new)
            busy_partition.extend(new)
            loaded = size
            build = time.perf_counter() - started
            print(f"{size:,} busy events loaded in {build:.0f} s", file=log)
            if options.naive_events and results.naive_run is None:
                sample = busy_partition[-size:][: options.naive_events]
                results.naive_run = naive.execute_per_event(bench, sample)
                results.naive_run_events = len(sample)
                print(f"per-event design executed on {len(sample):,} events", file=log)
            measured = [
                endpoints.measure(bench, call, key, options.repeats) for call in discovery.calls
            ]
            print(f"{len(measured)} endpoint scopes measured", file=log)
            raw = _raw(busy_partition, max(3, options.repeats // 2))
            results.sizes.append(
                SizeResult(
                    size=size,
                    total_events=size + len(fixed) + len(solo),
                    build_seconds=build,
                    busy=busy.copy(),
                    endpoints=measured,
                    raw=raw,
                )
            )
    if options.cold_start:
        results.imports = coldstart.import_times(options.cold_runs)
        print("import times measured", file=log)
    if options.layer:
        results.layer = coldstart.layer_size()
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    parser.add_argument(
        "--sizes",
        default="10000,100000",
        help="busy-account dataset sizes, comma separated; 1000000 is opt-in (see docs/benchmark.md)",
    )
    parser.add_argument("--quick", action="store_true", help="10k events only, fewer repeats")
    parser.add_argument("--repeats", type=int, default=10, help="calls per endpoint and scope")
    parser.add_argument(
        "--naive-events",
        type=int,
        default=2000,
        help="busy events to run through the per-event design for real (0: count only)",
    )
    parser.add_argument("--no-cold-start", action="store_true", help="skip import timing")
    parser.add_argument("--no-layer", action="store_true", help="skip the layer size (pip)")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    sizes = [10_000] if args.quick else [int(s) for s in args.sizes.split(",") if s.strip()]
    options = Options(
        sizes=sizes,
        repeats=5 if args.quick else args.repeats,
        naive_events=args.naive_events,
        cold_runs=5 if args.quick else 7,
        cold_start=not args.no_cold_start,
        layer=not args.no_layer,
    )
    results = run(options)
    text = report.render(results)
    print(text)
    args.output.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
