"""What one benchmark run found: the workloads' writes, ingest, and each size's reads."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from bench import dataset, designs, harness

if TYPE_CHECKING:  # annotations only
    from bench import coldstart, counters_cpu, cpu, endpoints, ingest_cost, raw

Route = tuple[str, str]


@dataclass
class Workload:
    """One stream workload through the counters function and the two other designs."""

    name: str
    tally: list[harness.Batch] = field(default_factory=list)
    per_event: designs.PerEvent = field(default_factory=designs.PerEvent)
    merged: designs.MergedPerBatch = field(default_factory=designs.MergedPerBatch)

    @property
    def events(self) -> int:
        return sum(batch.records for batch in self.tally)

    @property
    def writes(self) -> int:
        return sum(batch.usage.items_written for batch in self.tally)

    @property
    def wcu(self) -> float:
        return sum(batch.usage.wcu for batch in self.tally)

    def run(
        self, bench: harness.Backend, items: list[dataset.Item], seq: dataset.Sequencer
    ) -> None:
        self.tally.extend(harness.load(bench, items, seq))
        for batch in dataset.batches(items):
            self.per_event.batch(batch)
            self.merged.batch(batch)


@dataclass
class SizeResult:
    size: int
    total_events: int
    build_seconds: float
    endpoints: list[endpoints.Measurement]
    cpu: list[cpu.CpuMeasurement]
    scans: dict[Route, raw.RawMeasurement]
    indexed: dict[Route, raw.RawMeasurement]


@dataclass
class Results:
    engine: str = "moto"
    sizes: list[SizeResult] = field(default_factory=list)
    workloads: list[Workload] = field(default_factory=list)
    ingest: list[ingest_cost.Step] = field(default_factory=list)
    indexed_wcu: float = 0.0  # the indexed raw design's index write per message
    executed: designs.Executed | None = None
    notes: list[str] = field(default_factory=list)
    imports: coldstart.ImportTimes | None = None
    layer: coldstart.LayerSize | None = None
    processes: list[counters_cpu.ProcessRun] = field(default_factory=list)
