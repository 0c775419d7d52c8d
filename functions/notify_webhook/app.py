"""Job notifications: calls the spec's webhook when a job reaches completed or failed (from the
jobs table's stream, so every way a job ends is covered)."""

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.data_classes import DynamoDBStreamEvent, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext

from autovid.core.config import Config
from autovid.jobs.notifications import notify, webhook_sender

logger = Logger()
tracer = Tracer()


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@event_source(data_class=DynamoDBStreamEvent)
def handler(event: DynamoDBStreamEvent, context: LambdaContext) -> None:
    config = Config.from_env()
    for record in event.records:
        images = record.raw_event.get("dynamodb") or {}
        if "NewImage" in images:
            sender = lambda: webhook_sender(config.webhook, context.get_remaining_time_in_millis() / 1000)  # noqa: E731
            notify(images["NewImage"], images.get("OldImage"), settings=config.settings, sender=sender)
