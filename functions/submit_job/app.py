"""POST /jobs (alias POST /submit): validate a job spec, record it as submitted, queue it."""

from http import HTTPStatus

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from autovid.core.config import Config, Settings
from autovid.http.resolver import (
    caller_api_key_id,
    create_resolver,
    documented_responses,
    idempotency_key,
    json_body,
    json_response,
    refuse_other_methods,
)
from autovid.jobs.records import JobResponse
from autovid.jobs.submit import submit_job, submit_job_once

logger = Logger()
tracer = Tracer()
metrics = Metrics()
# Routes and CORS are declared once, at cold start.
CORS_ALLOW_ORIGIN = Settings().cors_allow_origin
app = create_resolver(logger, cors_allow_origin=CORS_ALLOW_ORIGIN)


SUBMIT_RESPONSES = documented_responses(
    202, JobResponse, "accepted: the job is recorded as submitted and queued", 400, 405, 409, 413, 415, 422, 503
)


@app.post("/jobs", summary="Submit a job", responses=SUBMIT_RESPONSES, operation_id="submitJob")
@app.post("/submit", summary="Submit a job (the earlier version's path)", responses=SUBMIT_RESPONSES)
@tracer.capture_method
def create_job() -> Response[JobResponse]:
    config = Config.from_env()
    limits, settings = config.limits, config.settings
    key = idempotency_key(app.current_event)
    spec = json_body(app.current_event, limits)
    caller = caller_api_key_id(app.current_event)
    headers = {}
    if key is None:
        body = submit_job(spec, settings=settings, limits=limits, api_key_id=caller).body()
    else:
        body, replayed = submit_job_once(
            key, caller, spec, settings=settings, limits=limits, lambda_context=app.lambda_context
        )
        headers["Idempotent-Replayed"] = "true" if replayed else "false"
    logger.append_keys(jobId=body["jobId"])
    logger.info("job submitted", extra={"replayed": headers.get("Idempotent-Replayed") == "true"})
    if headers.get("Idempotent-Replayed") != "true":
        metrics.add_metric(name="JobsSubmitted", unit=MetricUnit.Count, value=1)
    return json_response(HTTPStatus.ACCEPTED, body, headers={"Location": f"/jobs/{body['jobId']}", **headers})


# GET /jobs is GetStatus's (API Gateway routes an exact method before ANY).
refuse_other_methods(app, "/jobs", ["GET", "POST"], cors_enabled=bool(CORS_ALLOW_ORIGIN))
refuse_other_methods(app, "/submit", ["POST"], cors_enabled=bool(CORS_ALLOW_ORIGIN))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
