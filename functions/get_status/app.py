"""GET /jobs/{jobId} (alias GET /status/{jobId}): the job's status, output and history."""

from http import HTTPStatus

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from autovid.core.config import Config, Settings
from autovid.core.errors import FieldError
from autovid.http.resolver import (
    RequestError,
    create_resolver,
    documented_responses,
    json_response,
    refuse_other_methods,
)
from autovid.jobs.read_model import read_job
from autovid.jobs.records import JobResponse, is_job_id

logger = Logger()
tracer = Tracer()
metrics = Metrics()
# Routes and CORS are declared once, at cold start.
CORS_ALLOW_ORIGIN = Settings().cors_allow_origin
app = create_resolver(logger, cors_allow_origin=CORS_ALLOW_ORIGIN)


STATUS_RESPONSES = documented_responses(200, JobResponse, "the job, its status history and progress", 400, 404, 503)


@app.get("/jobs/<jobId>", summary="Read a job", responses=STATUS_RESPONSES, operation_id="getJob")
@app.get("/status/<jobId>", summary="Read a job (the earlier version's path)", responses=STATUS_RESPONSES)
@tracer.capture_method
def get_job(jobId: str) -> Response[JobResponse]:  # noqa: N803 - the path parameter's name
    if not is_job_id(jobId):
        raise RequestError(HTTPStatus.BAD_REQUEST, "invalid job id", [FieldError("jobId", "must be a UUID")])
    logger.append_keys(jobId=jobId)
    return json_response(HTTPStatus.OK, read_job(jobId, Config.from_env().settings).body())


for path in ("/jobs/<jobId>", "/status/<jobId>"):
    refuse_other_methods(app, path, ["GET"], cors_enabled=bool(CORS_ALLOW_ORIGIN))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
