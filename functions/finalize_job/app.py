"""FinalizeJob step: mark the job completed and remove its work files."""

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from autovid.core.config import Config
from autovid.workflow.finalize_job import FinalizeStepInput, finalize_job
from autovid.workflow.runner import FINALIZE, StepRunner

logger = Logger()
tracer = Tracer()
metrics = Metrics()


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_parser(model=FinalizeStepInput)
def handler(event: FinalizeStepInput, context: LambdaContext) -> dict:
    logger.append_keys(jobId=event.job_id)
    runner = StepRunner(FINALIZE, event, Config.from_env())
    record = runner.run(lambda record: finalize_job(record, event.output, runner))
    metrics.add_metric(name="JobsCompleted", unit=MetricUnit.Count, value=1)
    return {"jobId": record["jobId"], "status": record["status"]}
