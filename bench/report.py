"""The benchmark's Markdown report: tables, ratios, and the targets met or missed."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from bench import naive
from bench.meter import write_units

if TYPE_CHECKING:
    from bench.run import Results, SizeResult, WriteStats

IMPORT_LIMIT = 1.3
READ_TARGET = 100
WRITE_TARGET = 50
DAILY_SERIES = ("/api/v1/connect-hub/{channel}/stats", "whatsapp daily")


def _size(n: int) -> str:
    return f"{n // 1_000_000}M" if n % 1_000_000 == 0 else f"{n // 1000}k"


def _table(header: Sequence[str], rows: Iterable[Sequence[object]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines.extend("| " + " | ".join(str(cell) for cell in row) + " |" for row in rows)
    return lines


def _same_or_each(values: Sequence[object]) -> str:
    return str(values[0]) if len(set(values)) == 1 else " / ".join(str(v) for v in values)


def _rcu(value: float) -> str:
    return f"{value:g}"


def _ratio(tally: float, other: float) -> str:
    if not other:
        return "n/a"
    if not tally:
        return "0"
    factor = other / tally
    return f"{tally / other:.4f} ({factor:,.{0 if factor >= 10 else 1}f}x fewer)"


def _ms(value: float | None) -> str:
    return "not measured" if value is None else f"{value:.1f}"


def endpoint_rows(sizes: Sequence[SizeResult]) -> tuple[list[str], bool]:
    """Per endpoint and scope: requests, items and RCU per size, and latency per size."""
    labels = "/".join(_size(s.size) for s in sizes)
    header = ["endpoint", "scope", "status", f"requests ({labels})", "requests by operation",
              f"items read ({labels})", f"RCU ({labels})"]  # fmt: skip
    header += [f"p50 / p95 ms @{_size(s.size)}" for s in sizes]
    rows = []
    constant = True
    for index, first in enumerate(sizes[0].endpoints):
        runs = [s.endpoints[index] for s in sizes]
        requests = [m.usage.request_count for m in runs]
        items = [m.usage.items_read for m in runs]
        if len(set(requests)) > 1 or len(set(items)) > 1 or any(m.varied for m in runs):
            constant = False
        row = [
            f"{first.call.method} {first.call.resource}",
            first.call.label,
            _same_or_each([m.status for m in runs]),
            _same_or_each(requests) + (" (varied)" if any(m.varied for m in runs) else ""),
            first.usage.shape(),
            _same_or_each(items),
            _same_or_each([_rcu(m.usage.rcu) for m in runs]),
        ]
        row += [f"{m.median_ms:.1f} / {m.p95_ms:.1f}" for m in runs]
        rows.append(row)
    return _table(header, rows), constant


def raw_rows(sizes: Sequence[SizeResult]) -> tuple[list[str], float | None]:
    header = ["query", "events", "Tally items", "raw items", "items Tally/raw", "Tally RCU",
              "raw RCU", "RCU Tally/raw", "Tally p50 ms", "raw p50 ms", "latency Tally/raw"]  # fmt: skip
    rows = []
    daily_ratio = None
    for result in sizes:
        by_route = {(m.call.resource, m.call.label): m for m in result.endpoints}
        for route, (title, _) in naive.RAW_QUERIES.items():
            tally = by_route.get(route)
            raw = result.raw.get(route)
            if tally is None or raw is None:
                continue
            if route == DAILY_SERIES:
                daily_ratio = raw.usage.items_read / max(1, tally.usage.items_read)
            latency = "n/a" if raw.median_ms is None else f"{tally.median_ms / raw.median_ms:.4f}"
            rows.append([
                title, _size(result.size), tally.usage.items_read, raw.usage.items_read,
                _ratio(tally.usage.items_read, raw.usage.items_read), _rcu(tally.usage.rcu),
                _rcu(raw.usage.rcu), _ratio(tally.usage.rcu, raw.usage.rcu),
                f"{tally.median_ms:.1f}", _ms(raw.median_ms), latency,
            ])  # fmt: skip
    return _table(header, rows), daily_ratio


def _per_thousand(value: float, events: int) -> float:
    return value * 1000 / events if events else 0.0


def write_rows(workloads: Sequence[tuple[str, WriteStats]]) -> tuple[list[str], float | None]:
    header = ["workload", "events", "Tally item writes /1k events", "of which counter updates",
              "Tally WCU /1k", "naive UpdateItems /1k", "naive WCU /1k",
              "writes Tally/naive", "WCU Tally/naive", "counters handler ms per 1k-record batch"]  # fmt: skip
    rows = []
    busy_ratio = None
    for name, stats in workloads:
        naive_updates = sum(stats.naive_updates.values())
        if name.startswith("busy"):
            busy_ratio = naive_updates / max(1, stats.item_writes)
        rows.append([
            name, f"{stats.events:,}",
            f"{_per_thousand(stats.item_writes, stats.events):.1f}",
            f"{_per_thousand(stats.updates, stats.events):.1f}",
            f"{_per_thousand(stats.wcu, stats.events):.1f}",
            f"{_per_thousand(naive_updates, stats.events):.1f}",
            f"{_per_thousand(stats.naive_wcu, stats.events):.1f}",
            _ratio(stats.item_writes, naive_updates), _ratio(stats.wcu, stats.naive_wcu),
            f"{stats.seconds * 1000 / max(1, stats.batches):.0f}",
        ])  # fmt: skip
    return _table(header, rows), busy_ratio


def render(results: Results) -> str:
    sizes = results.sizes
    out = ["# Tally benchmark results", ""]
    out.append(
        "Generated by `.venv/bin/python -m bench.run` on moto (in-process DynamoDB). Requests, "
        "items and capacity units are what DynamoDB would bill for the same calls; latencies "
        "are in-process on moto and only comparable with each other."
    )
    out += ["", "Datasets: the busy account's events at 1,000 per minute; all events add its "
            "campaigns, contacts, credits and billing profile, small accounts with messages "
            "over 30 days, and the one-event accounts (bench/dataset.py).", ""]  # fmt: skip
    out += _table(
        ["busy events", "all events", "load + counters time (s)"],
        [[f"{s.size:,}", f"{s.total_events:,}", f"{s.build_seconds:.0f}"] for s in sizes],
    )
    out += ["", "## Read endpoints (busy account, per call)", ""]
    lines, constant = endpoint_rows(sizes)
    out += lines
    out += ["", "Per warm call; the API key lookup (one GetItem on the keys table on a "
            "container's first call, then at most every 30 s) is left out. Latency of the "
            "routes that Query the events table (dashboard's recent activity, campaigns) grows "
            "on moto, which sorts every item of the table for each Query; their requests and "
            "items read do not grow."]  # fmt: skip
    out += [
        "",
        "## Same queries answered from raw events (Query pk = account, count in Python)",
        "",
    ]
    lines, daily_ratio = raw_rows(sizes)
    out += lines
    out += ["", "## Counters function: writes per 1,000 events", ""]
    workloads = [(f"busy account, {_size(s.size)} events", s.busy) for s in sizes]
    workloads.append((f"{results.small.events:,} accounts x 1 event", results.small))
    lines, busy_ratio = write_rows(workloads)
    out += lines
    size, key = sizes[-1].busy.largest_item
    out += ["", f"Largest counter item of the busy account: {size:,} bytes (`{key}`), so each "
            f"transactional write of it costs {write_units(size, transactional=True)} WCU."]  # fmt: skip
    if results.naive_run is not None and results.naive_run_events:
        run = results.naive_run
        naive_ms = run.seconds * 1e6 / results.naive_run_events
        busy = sizes[0].busy
        tally_ms = busy.seconds * 1e6 / max(1, busy.events)
        out += ["", f"Per-event design executed for real on {results.naive_run_events:,} busy "
                f"events: {run.updates:,} UpdateItem calls, {naive_ms:,.0f} ms per 1,000 events; "
                f"Tally's counters function: {tally_ms:,.0f} ms per 1,000 events "
                f"(latency Tally/naive {tally_ms / naive_ms:.3f}, both on moto)."]  # fmt: skip
    imports_ok = _imports(results, out)
    _layer(results, out)
    out += ["", "## Targets", ""]
    largest = _size(sizes[-1].size)
    if len(sizes) > 1:
        out.append(_verdict(constant, f"reads per query constant from {_size(sizes[0].size)} to "
                            f"{largest} events (requests and items read identical per endpoint and scope)"))  # fmt: skip
    else:
        out.append(
            "- NOT CHECKED: reads per query constant (one dataset size; give two with --sizes)"
        )
    if daily_ratio is not None:
        out.append(_verdict(daily_ratio >= READ_TARGET, f"30-day daily series at {largest}: raw "
                            f"scan reads {daily_ratio:,.0f}x the items Tally reads (target >= {READ_TARGET}x)"))  # fmt: skip
    if busy_ratio is not None:
        out.append(_verdict(busy_ratio >= WRITE_TARGET, f"busy account: the per-event design "
                            f"makes {busy_ratio:,.0f}x Tally's item writes (target >= {WRITE_TARGET}x)"))  # fmt: skip
    if imports_ok is not None:
        out.append(_verdict(imports_ok, f"every handler import <= {IMPORT_LIMIT}x `import boto3`"))
    if results.notes:
        out += ["", "## Notes", ""] + [f"- {note}" for note in results.notes]
    return "\n".join(out) + "\n"


def _verdict(ok: bool, text: str) -> str:
    return f"- {'MET' if ok else 'MISSED'}: {text}"


def _imports(results: Results, out: list[str]) -> bool | None:
    imports = results.imports
    if imports is None:
        return None
    out += ["", f"## Cold start: import time (median of {imports.runs} fresh interpreters)", ""]
    rows = [["`import boto3`", f"{imports.boto3_ms:.0f}", "1.00"]]
    rows += [
        [f"functions/{group}/app.py", f"{ms:.0f}", f"{imports.ratio(group):.2f}"]
        for group, ms in imports.handlers_ms.items()
    ]
    out += _table(["module", "median ms", "x boto3"], rows)
    for group, costs in imports.breakdown.items():
        listed = ", ".join(f"{name} {ms:.0f} ms" for name, ms in costs)
        out += ["", f"`{group}` is over {IMPORT_LIMIT}x; top-level imports (-X importtime, "
                f"cumulative): {listed}"]  # fmt: skip
    return all(imports.ratio(group) <= IMPORT_LIMIT for group in imports.handlers_ms)


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
