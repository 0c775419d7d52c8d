"""UploadOutput step: deliver the MP4 to its destination and presign a download URL."""

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from autovid.core.config import Config
from autovid.workflow.runner import UPLOAD, StepRunner
from autovid.workflow.upload_output import UploadStepInput, upload_output

logger = Logger()
tracer = Tracer()
metrics = Metrics()


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_parser(model=UploadStepInput)
def handler(event: UploadStepInput, context: LambdaContext) -> dict:
    logger.append_keys(jobId=event.job_id)
    runner = StepRunner(UPLOAD, event, Config.from_env())
    output = runner.run(lambda record: upload_output(record, event.rendered, runner))
    return output.model_dump()
