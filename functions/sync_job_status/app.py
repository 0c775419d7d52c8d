"""Status sync: records failures no step could (retries run out, timeouts, crashes, aborts), and a
redrive's start (the failed job goes back to retrying)."""

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from aws_lambda_powertools.utilities.typing import LambdaContext

from autovid.aws.jobs import JobsTable
from autovid.core.config import Config
from autovid.jobs.execution_sync import ExecutionStatusChange, sync_job_status

logger = Logger()
tracer = Tracer()


class ExecutionStatusChangeEvent(EventBridgeModel):
    detail: ExecutionStatusChange


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@event_parser(model=ExecutionStatusChangeEvent)
def handler(event: ExecutionStatusChangeEvent, context: LambdaContext) -> dict:
    outcome = sync_job_status(event.detail, JobsTable(Config.from_env().settings.jobs_table))
    logger.info(outcome, extra={"executionArn": event.detail.execution_arn, "status": event.detail.status})
    return {"outcome": outcome}
