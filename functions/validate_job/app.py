"""ValidateJob step: re-validate the stored spec and probe every asset; returns the render plan's inputs."""

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from autovid.workflow.runner import VALIDATE, StepInput, StepRunner
from autovid.workflow.validate_job import validate_job

logger = Logger()
tracer = Tracer()
metrics = Metrics()


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_parser(model=StepInput)
def handler(event: StepInput, context: LambdaContext) -> dict:
    logger.append_keys(jobId=event.job_id)
    return StepRunner(VALIDATE, event).run(validate_job).model_dump()
