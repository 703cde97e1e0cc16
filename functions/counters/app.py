"""The events stream -> counters, exactly once per batch (see tally.counters.apply_batch)."""

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes import DynamoDBStreamEvent, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext

from tally import counters
from tally.observability import logger, metrics


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@event_source(data_class=DynamoDBStreamEvent)
def lambda_handler(event: DynamoDBStreamEvent, context: LambdaContext) -> dict[str, Any]:
    result = counters.apply_stream_event(event)
    metrics.add_metric(name="StreamRecords", unit=MetricUnit.Count, value=result.records)
    metrics.add_metric(
        name="CounterItemsWritten", unit=MetricUnit.Count, value=result.items_written
    )
    metrics.add_metric(
        name="BatchChunksSkipped", unit=MetricUnit.Count, value=result.chunks_skipped
    )
    logger.info("batch applied", extra=result.__dict__)
    return result.__dict__
