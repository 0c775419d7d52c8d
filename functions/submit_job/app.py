"""POST /jobs (alias POST /submit): validate a job spec, record it as submitted, queue it."""

from http import HTTPStatus

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from autovid.api import create_resolver, json_body, json_response, refuse_other_methods
from autovid.config import Limits, Settings
from autovid.submit import submit_job

logger = Logger()
tracer = Tracer()
metrics = Metrics()
app = create_resolver(logger)


@app.post("/jobs")
@app.post("/submit")
@tracer.capture_method
def create_job() -> Response:
    limits = Limits.from_env()
    job = submit_job(json_body(app.current_event, limits), settings=Settings.from_env(), limits=limits)
    logger.append_keys(jobId=job.jobId)
    logger.info("job submitted")
    metrics.add_metric(name="JobsSubmitted", unit=MetricUnit.Count, value=1)
    return json_response(HTTPStatus.ACCEPTED, job.body(), headers={"Location": f"/jobs/{job.jobId}"})


refuse_other_methods(app, "/jobs", ["POST"])
refuse_other_methods(app, "/submit", ["POST"])


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
