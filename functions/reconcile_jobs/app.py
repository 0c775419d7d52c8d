"""Reconcile: on a schedule, fail jobs whose execution ended without the status event arriving."""

from datetime import timedelta

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import BaseModel, Field, event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from autovid.aws.jobs import JobsTable
from autovid.core.config import Config
from autovid.jobs.reconcile import reconcile_jobs

logger = Logger()
tracer = Tracer()
metrics = Metrics()


class ReconcileRequest(BaseModel):
    """A scheduled event (its fields are ignored), or a manual run: ``{"olderThanSeconds": 0}``."""

    older_than_seconds: int | None = Field(default=None, alias="olderThanSeconds", ge=0)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_parser(model=ReconcileRequest)
def handler(event: ReconcileRequest, context: LambdaContext) -> dict:
    settings = Config.from_env().settings
    seconds = settings.reconcile_after_seconds if event.older_than_seconds is None else event.older_than_seconds
    report = reconcile_jobs(JobsTable(settings.jobs_table), older_than=timedelta(seconds=seconds))
    metrics.add_metric(name="JobsReconciledToFailed", unit=MetricUnit.Count, value=len(report.markedFailed))
    if report.markedFailed or report.left:
        logger.warning("reconciled jobs", extra=report.model_dump())
    return report.model_dump()
