"""The benchmark harness on a tiny dataset: its invariants hold and its report renders.

Not a unit test (the benchmark runs its own moto, ~40 s), and not an engine suite (the
benchmark is moto-only): the test command runs it once, in its first pass.
"""

from __future__ import annotations

import io

from bench import report, run


def test_reads_constant_and_writes_merged() -> None:
    options = run.Options(
        sizes=[1000, 2000],
        repeats=2,
        solo_accounts=100,
        small_accounts=2,
        small_events=20,
        naive_events=0,
        cold_start=False,
        layer=False,
        log=io.StringIO(),
    )
    results = run.run(options)
    small, large = results.sizes
    assert small.endpoints, "no read endpoint was measured"
    for before, after in zip(small.endpoints, large.endpoints, strict=True):
        assert before.call == after.call
        assert before.status == 200, (before.call, before.status)
        assert before.usage.requests == after.usage.requests, before.call
        assert before.usage.items_read == after.usage.items_read, before.call
    busy = large.busy
    naive_updates = sum(busy.naive_updates.values())
    assert busy.events == 2000
    assert busy.item_writes * 20 < naive_updates
    raw = large.raw[report.DAILY_SERIES]
    assert raw.usage.items_read > small.raw[report.DAILY_SERIES].usage.items_read
    text = report.render(results)
    assert "## Read endpoints" in text
    assert "MISSED: reads per query" not in text
