"""UploadOutput step: deliver the MP4 to its destination and presign a download URL."""

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from autovid.config import Settings
from autovid.workflow.render_video import RenderOutput
from autovid.workflow.runner import UPLOAD, StepInput, StepRunner
from autovid.workflow.upload_output import upload_output

logger = Logger()
tracer = Tracer()
metrics = Metrics()


class UploadInput(StepInput):
    rendered: RenderOutput


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_parser(model=UploadInput)
def handler(event: UploadInput, context: LambdaContext) -> dict:
    logger.append_keys(jobId=event.job_id)
    settings = Settings.from_env()
    output = StepRunner(UPLOAD, event, settings).run(lambda record: upload_output(record, event.rendered, settings))
    return output.model_dump()
