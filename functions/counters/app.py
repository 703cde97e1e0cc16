"""The events stream -> counters, exactly once per record (see tally.counters)."""

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes import DynamoDBStreamEvent, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext

from tally import counters
from tally.observability import logger, metrics, with_lambda_context


@with_lambda_context()
@metrics.log_metrics
@event_source(data_class=DynamoDBStreamEvent)
def lambda_handler(event: DynamoDBStreamEvent, context: LambdaContext) -> dict[str, Any]:
    result = counters.apply_stream_event(event)
    for name, value in (
        ("StreamRecords", result.records),
        ("CounterItemsWritten", result.items_written),
        ("CounterItemsSkipped", result.items_skipped),
        ("RecordsQuarantined", result.records_quarantined),
    ):
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
    logger.info("batch applied", extra=result.__dict__)
    return result.__dict__
