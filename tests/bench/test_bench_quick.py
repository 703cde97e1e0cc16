"""The benchmark harness on a tiny dataset: its invariants hold and its report renders.

Not a unit test (the benchmark starts its own backend, ~40 s), and not an engine suite (it
runs the harness on moto whatever TALLY_TEST_ENGINE says; `python -m bench.run` defaults to
DynamoDB Local): the test command runs it once, in its first pass.
"""

from __future__ import annotations

import io

from bench import report, run


def test_reads_constant_and_writes_merged() -> None:
    options = run.Options(
        sizes=[1000, 2000],
        repeats=2,
        cpu_repeats=3,
        small_accounts=2,
        small_events=20,
        workload_batches=0,
        solo_batches=0,
        zipf_batches=0,
        process_batches=0,
        engine="moto",
        ingest_events=100,
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
    (busy,) = results.workloads
    assert busy.events == 2000
    # Tally's real writes against the designs computed in memory on the same batches.
    assert busy.merged.cost.wcu <= busy.wcu <= 1.5 * busy.merged.cost.wcu
    assert busy.writes == busy.merged.cost.writes
    assert busy.writes * 20 < busy.per_event.cost.writes
    insert, *updates = results.ingest
    assert insert.usage.index_wcu > 0
    assert all(step.usage.index_wcu == 0 for step in updates)
    daily = report.DAILY_SERIES
    assert large.scans[daily].usage.items_read > small.scans[daily].usage.items_read
    assert large.indexed[daily].usage.items_read < large.scans[daily].usage.items_read
    text = report.render(results)
    assert "## Read endpoints" in text
    assert "MISSED: requests and items read" not in text
