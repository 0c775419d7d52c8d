"""Job notifications: calls the spec's webhook when a job reaches completed or failed (from the
jobs table's stream, so every way a job ends is covered)."""

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.data_classes import DynamoDBStreamEvent, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext

from autovid.aws.secrets import secret_value
from autovid.config import Settings, WebhookSettings
from autovid.notify import notify
from autovid.webhooks import WebhookSender

logger = Logger()
tracer = Tracer()


def sender() -> WebhookSender:
    webhook = WebhookSettings.from_env()
    return WebhookSender(
        secret_value(webhook.secret_arn),
        timeout_seconds=webhook.timeout_seconds,
        max_attempts=webhook.max_attempts,
        allow_loopback=webhook.allow_loopback,
    )


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@event_source(data_class=DynamoDBStreamEvent)
def handler(event: DynamoDBStreamEvent, context: LambdaContext) -> None:
    settings = Settings.from_env()
    for record in event.records:
        images = record.raw_event.get("dynamodb") or {}
        if "NewImage" in images:
            notify(images["NewImage"], images.get("OldImage"), settings=settings, sender=sender)
