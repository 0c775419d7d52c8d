"""ValidateJob step: re-validate the stored spec and probe every asset; returns the render plan's inputs."""

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from autovid.core.config import Config
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
    config = Config.from_env()
    return StepRunner(VALIDATE, event, config).run(lambda record: validate_job(record, config)).model_dump()
