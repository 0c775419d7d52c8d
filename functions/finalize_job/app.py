"""FinalizeJob step: mark the job completed and remove its work files."""

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from autovid.records import JobOutput
from autovid.workflow.finalize_job import finalize_job
from autovid.workflow.runner import FINALIZE, StepInput, StepRunner

logger = Logger()
tracer = Tracer()
metrics = Metrics()


class FinalizeInput(StepInput):
    output: JobOutput


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_parser(model=FinalizeInput)
def handler(event: FinalizeInput, context: LambdaContext) -> dict:
    logger.append_keys(jobId=event.job_id)
    runner = StepRunner(FINALIZE, event)
    record = runner.run(lambda record: finalize_job(record, event.output, runner))
    metrics.add_metric(name="JobsCompleted", unit=MetricUnit.Count, value=1)
    return {"jobId": record["jobId"], "status": record["status"]}
