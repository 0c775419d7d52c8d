"""GET /jobs/{jobId} (alias GET /status/{jobId}): the job's status, output and history.
GET /jobs: the caller's jobs, newest first, filtered, a page at a time."""

from http import HTTPStatus

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from autovid.core.config import Config, Settings
from autovid.core.errors import FieldError
from autovid.http.resolver import (
    RequestError,
    caller_api_key_id,
    create_resolver,
    documented_responses,
    json_response,
    refuse_other_methods,
)
from autovid.jobs.listing import JobList, ListQuery, list_body, list_jobs
from autovid.jobs.read_model import read_job
from autovid.jobs.records import JobResponse, is_job_id, listing_scope

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


LIST_RESPONSES = documented_responses(
    200,
    JobList,
    "a page of the caller's jobs, newest first, and nextToken when there are more",
    400,
    503,
    error_descriptions={
        400: "an unknown status, a bad date, limit or nextToken; `details` names each parameter and why"
    },
)


@app.get("/jobs", summary="List jobs", responses=LIST_RESPONSES, operation_id="listJobs")
@tracer.capture_method
def list_own_jobs() -> Response[JobList]:
    event = app.current_event
    parameters = event.multi_value_query_string_parameters or {
        name: [value] for name, value in (event.query_string_parameters or {}).items()
    }
    query = ListQuery.from_parameters(parameters)
    config = Config.from_env()
    page = list_jobs(
        query,
        scope=listing_scope(caller_api_key_id(event)),
        settings=config.settings,
        signing_secret_arn=config.webhook.secret_arn,
    )
    return json_response(HTTPStatus.OK, list_body(page))


refuse_other_methods(app, "/jobs/<jobId>", ["DELETE", "GET"], cors_enabled=bool(CORS_ALLOW_ORIGIN))
refuse_other_methods(app, "/status/<jobId>", ["GET"], cors_enabled=bool(CORS_ALLOW_ORIGIN))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
