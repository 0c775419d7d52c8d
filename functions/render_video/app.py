"""RenderVideo step: synthesize speech and render the MP4 into the bucket's work/{jobId}/ prefix."""

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from autovid.core.config import Config
from autovid.workflow.render_video import RenderStepInput, render_job
from autovid.workflow.runner import RENDER, StepRunner

logger = Logger()
tracer = Tracer()
metrics = Metrics()


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_parser(model=RenderStepInput)
def handler(event: RenderStepInput, context: LambdaContext) -> dict:
    logger.append_keys(jobId=event.job_id)
    runner = StepRunner(RENDER, event, Config.from_env())
    rendered = runner.run(lambda record: render_job(record, runner, event.plan))
    metrics.add_metric(name="RenderedSeconds", unit=MetricUnit.Seconds, value=rendered.duration)
    return rendered.model_dump()
