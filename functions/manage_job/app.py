"""POST /jobs/{jobId}/cancel: cancel a job. DELETE /jobs/{jobId}: remove a finished job and its output."""

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
from autovid.jobs.control import cancel_job, delete_job
from autovid.jobs.records import JobResponse, is_job_id, listing_scope

logger = Logger()
tracer = Tracer()
metrics = Metrics()
# Routes and CORS are declared once, at cold start.
CORS_ALLOW_ORIGIN = Settings().cors_allow_origin
app = create_resolver(logger, cors_allow_origin=CORS_ALLOW_ORIGIN)

CANCEL_RESPONSES = documented_responses(
    202,
    JobResponse,
    "the job is cancelled (or already was): its status body",
    400,
    404,
    405,
    409,
    503,
    error_descriptions={409: "the job is completed or failed; `details` names its status"},
)
DELETE_RESPONSES = documented_responses(
    204,
    None,
    "the job's output and record are removed",
    400,
    404,
    409,
    503,
    error_descriptions={409: "the job is still submitted, processing or retrying; `details` names its status"},
)


def checked_job_id(job_id: str) -> str:
    if not is_job_id(job_id):
        raise RequestError(HTTPStatus.BAD_REQUEST, "invalid job id", [FieldError("jobId", "must be a UUID")])
    logger.append_keys(jobId=job_id)
    return job_id


@app.post("/jobs/<jobId>/cancel", summary="Cancel a job", responses=CANCEL_RESPONSES, operation_id="cancelJob")
@tracer.capture_method
def cancel(jobId: str) -> Response[JobResponse]:  # noqa: N803 - the path parameter's name
    config = Config.from_env()
    job = cancel_job(
        checked_job_id(jobId),
        scope=listing_scope(caller_api_key_id(app.current_event)),
        settings=config.settings,
        limits=config.limits,
    )
    logger.info("job cancelled")
    return json_response(HTTPStatus.ACCEPTED, job.body())


@app.delete("/jobs/<jobId>", summary="Delete a finished job", responses=DELETE_RESPONSES, operation_id="deleteJob")
@tracer.capture_method
def delete(jobId: str) -> Response[None]:  # noqa: N803 - the path parameter's name
    config = Config.from_env()
    delete_job(
        checked_job_id(jobId),
        scope=listing_scope(caller_api_key_id(app.current_event)),
        settings=config.settings,
        limits=config.limits,
    )
    logger.info("job deleted")
    return Response(status_code=HTTPStatus.NO_CONTENT.value, body="")


refuse_other_methods(app, "/jobs/<jobId>/cancel", ["POST"], cors_enabled=bool(CORS_ALLOW_ORIGIN))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
