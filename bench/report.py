"""The benchmark's Markdown report: tables, ratios, dollars, and the targets met or missed."""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from bench import costs, counters_cpu, cpu, ingest_cost, raw
from bench.designs import DesignCost
from tally import storage
from tally.config import load_settings
from tally_dev import template

if TYPE_CHECKING:
    from bench.outcome import Results, SizeResult, Workload

IMPORT_LIMIT = 1.3
NAIVE_LIMIT = 1.0
MERGED_LIMIT = 1.5
# A stream shard carries one events-table partition's writes: at most 1,000 WCU/s, so at
# most 1,000 records/s of items under 1 KB.
SHARD_RECORDS_PER_SECOND = 1000
DAILY_SERIES = ("/api/v1/connect-hub/{channel}/stats", "whatsapp daily")
STATUS_UPDATES = (0, 1, 2)


def _size(n: int) -> str:
    return f"{n // 1_000_000}M" if n % 1_000_000 == 0 else f"{n // 1000}k"


def _table(header: Sequence[str], rows: Iterable[Sequence[object]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines.extend("| " + " | ".join(str(cell) for cell in row) + " |" for row in rows)
    return lines


def _same_or_each(values: Sequence[object]) -> str:
    return str(values[0]) if len(set(values)) == 1 else " / ".join(str(v) for v in values)


def _num(value: float) -> str:
    return f"{value:,.1f}" if value < 100 else f"{value:,.0f}"


def _verdict(ok: bool, text: str) -> str:
    return f"- {'MET' if ok else 'MISSED'}: {text}"


# --- Counters ---------------------------------------------------------------------------


def _per_k(cost: DesignCost, value: float) -> float:
    return cost.per_thousand(value)


def counters_section(workloads: Sequence[Workload], out: list[str]) -> list[str]:
    """WCU per 1,000 events per workload against both designs; returns the verdicts."""
    header = ["workload", "events (batches)", "Tally item writes /1k", "Tally WCU /1k",
              "per-event WCU /1k", "merged WCU /1k", "Tally / per-event", "Tally / merged"]  # fmt: skip
    rows = []
    verdicts = []
    for work in workloads:
        events = work.events
        tally_wcu = work.wcu * 1000 / events
        naive = work.per_event.cost
        floor = work.merged.cost
        versus_naive = work.wcu / naive.wcu
        versus_merged = work.wcu / floor.wcu
        rows.append([
            work.name, f"{events:,} ({len(work.tally)})", _num(work.writes * 1000 / events),
            _num(tally_wcu), _num(_per_k(naive, naive.wcu)), _num(_per_k(floor, floor.wcu)),
            f"{versus_naive:.3f}", f"{versus_merged:.2f}",
        ])  # fmt: skip
        verdicts.append(_verdict(versus_naive <= NAIVE_LIMIT, f"{work.name}: Tally / per-event "
                                 f"WCU {versus_naive:.3f} (target <= {NAIVE_LIMIT:g})"))  # fmt: skip
        verdicts.append(_verdict(versus_merged <= MERGED_LIMIT, f"{work.name}: Tally / merged "
                                 f"WCU {versus_merged:.2f} (target <= {MERGED_LIMIT:g})"))  # fmt: skip
    out += _table(header, rows)
    out += ["", "Per-event: one plain UpdateItem per counter item per event. Merged: the batch's "
            "deltas summed per counter item, one plain UpdateItem each, no exactly-once (the "
            "floor). Both on the same items and batches as Tally, billed at each item's size "
            "after each write (bench/designs.py); Tally's WCU are its real UpdateItems, billed at "
            "the item's size after each batch (watermarks included)."]  # fmt: skip
    return verdicts


def _largest_batch(work: Workload) -> int:
    return max(batch.usage.items_written for batch in work.tally)


def timing_section(workloads: Sequence[Workload], engine: str, out: list[str]) -> None:
    rows = []
    for work in workloads:
        updates = _largest_batch(work)
        wall = statistics.median(batch.seconds for batch in work.tally)
        cpu_seconds = statistics.median(batch.cpu_seconds for batch in work.tally)
        rows.append([
            work.name, f"{updates:,}", str(-(-updates // storage.WORKERS)),
            f"{wall * 1000:,.0f}", f"{1000 / wall:,.0f}", f"{cpu_seconds * 1000:,.0f}",
            f"{1000 / cpu_seconds:,.0f}",
        ])  # fmt: skip
    out += _table(["workload", "UpdateItems in the largest batch",
                   f"rounds of {storage.WORKERS} concurrent writes",
                   f"wall ms per batch ({engine})", f"records/s per shard ({engine})",
                   "function CPU ms per batch", "records/s per shard at 1 vCPU"], rows)  # fmt: skip
    out += ["", f"Wall time is the counters handler's, on {engine} in this machine; CPU is the "
            "function's own (this process: the layer and its DynamoDB client; DynamoDB Local runs in "
            "another process), which bounds one shard's throughput on a 1-vCPU Lambda "
            "whatever DynamoDB's latency. A stream shard carries at most "
            f"{SHARD_RECORDS_PER_SECOND:,} records/s: DynamoDB Streams keeps one shard per "
            "table partition, and a partition takes at most 1,000 WCU/s, one record per "
            "write of an item under 1 KB."]  # fmt: skip


def processes_section(runs: Sequence[counters_cpu.ProcessRun], out: list[str]) -> list[str]:
    """The counters function over worker processes, DynamoDB answered at once."""
    memory = template.load().raw["Parameters"]["CountersMemorySize"]["Default"]
    default = load_settings({"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(memory)}).processes
    out += [
        "",
        "### Over processes (`python -m bench.counters_cpu`), DynamoDB answered at once",
        "",
    ]
    out += counters_cpu.table(runs)
    out += ["", "Every request goes over HTTP to `bench.standin`, which answers at once: the CPU "
            "is the function's own, in this process and in each worker (tally.fanout). With a "
            "vCPU per process (Lambda: one per 1,769 MB), the busiest process bounds a batch. "
            f"The template's default CountersMemorySize, {memory:,} MB, runs {default} "
            "processes. This machine has 2 cores, shared with the stand-in: with more processes "
            "than cores, each process's CPU time grows with the contention."]  # fmt: skip
    return [
        _verdict(
            run.records_per_second >= SHARD_RECORDS_PER_SECOND,
            f"counters function, {run.workload}: {run.records_per_second:,.0f} records/s per "
            f"shard at the template's {default} vCPUs (a shard carries "
            f"{SHARD_RECORDS_PER_SECOND:,})",
        )
        for run in runs
        if run.processes == default
    ]


# --- Ingest ------------------------------------------------------------------------------


def ingest_section(steps: Sequence[ingest_cost.Step], out: list[str]) -> list[str]:
    rows = []
    for step in steps:
        usage = step.usage
        rows.append([
            step.label, f"{step.events:,}", usage.shape(), f"{step.per_event(usage.rcu):.3f}",
            f"{step.per_event(usage.table_wcu):.3f}", f"{step.per_event(usage.index_wcu):.3f}",
            costs.dollars(costs.per_million(step.per_event(usage.wcu), step.per_event(usage.rcu))),
        ])  # fmt: skip
    out += _table(["step", "events", "requests", "RCU / event", "table WCU / event",
                   "index WCU / event", "$ per million"], rows)  # fmt: skip
    insert, *updates = steps
    insert_wcu = insert.per_event(insert.usage.table_wcu)
    index_wcu = insert.per_event(insert.usage.index_wcu)
    update_wcu = max(step.per_event(step.usage.table_wcu) for step in updates)
    out += ["", "Partition keys of one account (tally/events.py spreads messages, OTPs, usage, "
            "dialogs, contacts and credits over 8 keys by a hash of the event id): WCU per second "
            "on one key, the mean and the peak second (mean + 3 standard deviations of a "
            "binomial share), against 1,000 WCU/s per partition key.", ""]  # fmt: skip
    rows = []
    for rate in (1000, 2000, 4000):
        for updates_per_event in STATUS_UPDATES:
            load = ingest_cost.key_load(rate, updates_per_event, insert_wcu, update_wcu, index_wcu)
            rows.append([f"{rate:,}", str(updates_per_event), f"{load.table_mean:,.0f}",
                         f"{load.table_peak:,.0f}", f"{load.index_mean:,.0f}",
                         "yes" if load.table_peak <= ingest_cost.PARTITION_WCU else "**no**"])  # fmt: skip
    out += _table(["events/s (one account)", "status updates per event", "table WCU/s per key "
                   "(mean)", "table WCU/s per key (peak second)", "index WCU/s per key (mean)",
                   "under 1,000"], rows)  # fmt: skip
    limits = {
        updates_per_event: ingest_cost.max_rate(
            updates_per_event, insert_wcu, update_wcu, index_wcu
        )
        for updates_per_event in STATUS_UPDATES
    }
    out += ["", "Highest rate per account whose peak second stays under 1,000 WCU/s on every key: "
            + ", ".join(f"{rate:,} events/s with {n} status update{'s' if n != 1 else ''} per event"
                        for n, rate in limits.items()) + "."]  # fmt: skip
    return [
        _verdict(ingest_cost.key_load(1000, 2, insert_wcu, update_wcu, index_wcu).table_peak
                 <= ingest_cost.PARTITION_WCU, "one account at 1,000 events/s (2 status updates "
                 "each) stays under 1,000 WCU/s per partition key, table and index"),
    ]  # fmt: skip


# --- Reads --------------------------------------------------------------------------------


def endpoint_rows(sizes: Sequence[SizeResult]) -> tuple[list[str], bool, tuple[int, str]]:
    """Per endpoint and scope: requests, items, RCU, latency on the engine and layer CPU per size."""
    labels = "/".join(_size(s.size) for s in sizes)
    header = ["endpoint", "scope", "status", f"requests ({labels})", "requests by operation",
              f"items read ({labels})", f"RCU ({labels})", f"layer CPU ms, median ({labels})",
              f"p50 ms on the engine ({labels})"]  # fmt: skip
    rows = []
    constant = True
    worst = (0, "")
    for index, first in enumerate(sizes[0].endpoints):
        runs = [s.endpoints[index] for s in sizes]
        cpus = [s.cpu[index] for s in sizes]
        requests = [m.usage.request_count for m in runs]
        items = [m.usage.items_read for m in runs]
        if len(set(requests)) > 1 or len(set(items)) > 1 or any(m.varied for m in runs):
            constant = False
        worst = max(
            worst, (max(items), f"{first.call.method} {first.call.resource} {first.call.label}")
        )
        rows.append([
            f"{first.call.method} {first.call.resource}", first.call.label,
            _same_or_each([m.status for m in runs]),
            _same_or_each(requests) + (" (varied)" if any(m.varied for m in runs) else ""),
            first.usage.shape(), _same_or_each(items),
            _same_or_each([f"{m.usage.rcu:g}" for m in runs]),
            " / ".join(f"{c.median_ms:.2f}" for c in cpus),
            " / ".join(f"{m.median_ms:.1f}" for m in runs),
        ])  # fmt: skip
    return _table(header, rows), constant, worst


def cpu_verdicts(sizes: Sequence[SizeResult]) -> list[str]:
    verdicts = []
    for route in cpu.TARGETS:
        found = [m for s in sizes for m in s.cpu if (m.call.resource, m.call.label) == route]
        worst = max(m.median_ms for m in found)
        listed = " / ".join(f"{m.median_ms:.2f}" for m in found)
        verdicts.append(_verdict(worst <= cpu.TARGET_MS, f"layer CPU of `{route[0]}` "
                                 f"{route[1]}: {listed} ms median at "
                                 f"{' / '.join(_size(s.size) for s in sizes)} events "
                                 f"(target <= {cpu.TARGET_MS:g} ms)"))  # fmt: skip
    return verdicts


def _times(ratio: float) -> str:
    return f"{ratio:,.0f}x" if ratio >= 10 else f"{ratio:,.1f}x"


def raw_rows(sizes: Sequence[SizeResult]) -> list[str]:
    header = ["question", "events", "Tally items / RCU", "raw scan items / RCU",
              "indexed raw items / RCU", "RCU: indexed / Tally", "Tally CPU ms",
              "raw scan ms", "indexed ms"]  # fmt: skip
    rows = []
    for result in sizes:
        by_route = {(m.call.resource, m.call.label): m for m in result.endpoints}
        cpu_by_route = {(m.call.resource, m.call.label): m for m in result.cpu}
        for route, question in raw.QUESTIONS.items():
            tally = by_route[route].usage
            scan, index = result.scans[route], result.indexed[route]
            rows.append([
                question.title, _size(result.size), f"{tally.items_read} / {tally.rcu:g}",
                f"{scan.usage.items_read:,} / {scan.usage.rcu:g}",
                f"{index.usage.items_read:,} / {index.usage.rcu:g}",
                _times(index.usage.rcu / tally.rcu), f"{cpu_by_route[route].median_ms:.2f}",
                f"{scan.median_ms:.1f}", f"{index.median_ms:.1f}",
            ])  # fmt: skip
    return _table(header, rows)


# --- Dollars ------------------------------------------------------------------------------


def cost_section(results: Results, out: list[str]) -> None:
    out += [f"Prices: {costs.PRICE_REGION}, ${costs.WRITE_PER_MILLION} per million write "
            f"request units and ${costs.READ_PER_MILLION} per million read request units, "
            f"as listed on {costs.PRICES_AS_OF} (bench/costs.py).", "",
            "**Counting**, $ per million events (the counters function's writes):", ""]  # fmt: skip
    rows = []
    for work in results.workloads:
        tally = work.wcu / work.events
        naive = work.per_event.cost.wcu / work.per_event.cost.events
        floor = work.merged.cost.wcu / work.merged.cost.events
        rows.append([work.name, costs.dollars(costs.per_million(tally)),
                     costs.dollars(costs.per_million(floor)),
                     costs.dollars(costs.per_million(naive))])  # fmt: skip
    out += _table(["workload", "Tally", "merged (no exactly-once)", "per-event"], rows)
    insert, *updates = results.ingest
    insert_rcu = insert.per_event(insert.usage.rcu)
    insert_table = insert.per_event(insert.usage.table_wcu)
    insert_index = insert.per_event(insert.usage.index_wcu)
    update_table = statistics.mean(s.per_event(s.usage.table_wcu) for s in updates)
    update_rcu = statistics.mean(s.per_event(s.usage.rcu) for s in updates)
    indexed_wcu = results.indexed_wcu
    out += ["", "**Ingest**, $ per million ingested events (an insert or a status update; "
            "measured above), every design storing the same events table:", ""]  # fmt: skip
    rows = [
        ["Tally (table + recent-activity index, pre-read)",
         costs.dollars(costs.per_million(insert_table + insert_index, insert_rcu)),
         costs.dollars(costs.per_million(update_table, update_rcu))],
        ["raw scan (table, pre-read, no index)",
         costs.dollars(costs.per_million(insert_table, insert_rcu)),
         costs.dollars(costs.per_million(update_table, update_rcu))],
        ["indexed raw (table, pre-read, kind/channel index with projected fields)",
         costs.dollars(costs.per_million(insert_table + indexed_wcu, insert_rcu)),
         costs.dollars(costs.per_million(update_table + indexed_wcu, update_rcu))],
    ]  # fmt: skip
    out += _table(["design", "insert", "status update"], rows)
    out += ["", "The indexed design rewrites its index entry on every status update (the status "
            "is projected); per-event counting adds the per-event row above to any of them.", "",
            "**Reads**, $ per million calls (eventually consistent):", ""]  # fmt: skip
    rows = []
    for result in results.sizes:
        by_route = {(m.call.resource, m.call.label): m for m in result.endpoints}
        for route, question in raw.QUESTIONS.items():
            rows.append([
                question.title, _size(result.size),
                costs.dollars(costs.per_million(rcu=by_route[route].usage.rcu)),
                costs.dollars(costs.per_million(rcu=result.indexed[route].usage.rcu)),
                costs.dollars(costs.per_million(rcu=result.scans[route].usage.rcu)),
            ])  # fmt: skip
    out += _table(["question", "events", "Tally (and per-event counters)", "indexed raw",
                   "raw scan"], rows)  # fmt: skip


# --- The whole report ----------------------------------------------------------------------


def render(results: Results) -> str:
    sizes = results.sizes
    out = ["# Tally benchmark results", ""]
    out.append(
        f"Generated by `.venv/bin/python -m bench.run` on {results.engine}, in one run. "
        "Requests, items and capacity units are what DynamoDB would bill for the same calls; "
        f"latencies on {results.engine} are only comparable with each other; layer CPU is "
        "measured with DynamoDB answered from memory (bench/cpu.py)."
    )
    out += ["", "Busy-account dataset sizes in this run: "
            + ", ".join(f"{s.size:,} events" for s in sizes)
            + " (each also holds the fixed accounts' events; the other workloads run once)."]  # fmt: skip
    out += ["", "## Counters: WCU per 1,000 events (1,000-record stream batches)", ""]
    verdicts = counters_section(results.workloads, out)
    out += ["", "## Counters function time per batch", ""]
    timing_section(results.workloads, results.engine, out)
    if results.processes:
        verdicts += processes_section(results.processes, out)
    if results.executed is not None:
        run = results.executed
        busy = results.workloads[0]
        tally_ms = statistics.median(b.seconds for b in busy.tally) * 1000
        naive_ms = run.seconds * 1e6 / run.events
        out += ["", f"The per-event design run for real on {run.events:,} busy events: "
                f"{run.updates:,} UpdateItem calls one after another, {naive_ms:,.0f} ms per "
                f"1,000 events on {results.engine}, against {tally_ms:,.0f} ms for Tally's "
                "counters function."]  # fmt: skip
    out += ["", "## Ingest: capacity per event", ""]
    verdicts += ingest_section(results.ingest, out)
    out += ["", "## Read endpoints (busy account, per call)", ""]
    lines, constant, worst = endpoint_rows(sizes)
    out += lines
    out += ["", f"Most items read by one call: {worst[0]:,} ({worst[1]}). Per warm call; the API "
            "key lookup (cached per container for 30 s) is left out."]  # fmt: skip
    if len(sizes) > 1:
        verdicts.append(_verdict(constant, f"requests and items read per call identical from "
                                 f"{_size(sizes[0].size)} to {_size(sizes[-1].size)} events for "
                                 f"every endpoint and scope"))  # fmt: skip
    verdicts += cpu_verdicts(sizes)
    out += ["", "## The same questions answered from raw events", ""]
    out += raw_rows(sizes)
    out += ["", "## Cost in dollars", ""]
    cost_section(results, out)
    _imports(results, out, verdicts)
    _layer(results, out)
    out += ["", "## Targets", "", *verdicts]
    if results.notes:
        out += ["", "## Notes", ""] + [f"- {note}" for note in results.notes]
    return "\n".join(out) + "\n"


def _imports(results: Results, out: list[str], verdicts: list[str]) -> None:
    imports = results.imports
    if imports is None:
        return
    out += ["", f"## Cold start: import time (median of {imports.runs} fresh interpreters)", ""]
    rows = [["`import boto3`", f"{imports.boto3_ms:.0f}", "1.00"]]
    rows += [
        [f"functions/{group}/app.py", f"{ms:.0f}", f"{imports.ratio(group):.2f}"]
        for group, ms in imports.handlers_ms.items()
    ]
    out += _table(["module", "median ms", "x boto3"], rows)
    for group, costs_ in imports.breakdown.items():
        listed = ", ".join(f"{name} {ms:.0f} ms" for name, ms in costs_)
        out += ["", f"`{group}` is over {IMPORT_LIMIT}x; top-level imports (-X importtime, "
                f"cumulative): {listed}"]  # fmt: skip
    worst = max(imports.handlers_ms, key=imports.ratio)
    verdicts.append(_verdict(all(imports.ratio(g) <= IMPORT_LIMIT for g in imports.handlers_ms),
                             f"every handler import <= {IMPORT_LIMIT}x `import boto3` (largest: "
                             f"{worst} {imports.ratio(worst):.2f}x)"))  # fmt: skip


def _layer(results: Results, out: list[str]) -> None:
    layer = results.layer
    if layer is None:
        return
    out += ["", "## Deployed layer size", ""]
    if layer.unzipped_bytes is None or layer.zipped_bytes is None:
        out.append(f"Not measured: {layer.note}")
        return
    out.append(
        f"{layer.unzipped_bytes / 1e6:.1f} MB unzipped, {layer.zipped_bytes / 1e6:.1f} MB "
        f"zipped ({layer.note}). Largest parts: "
        + ", ".join(f"{name} {size / 1e6:.1f} MB" for name, size in layer.packages)
        + "."
    )
