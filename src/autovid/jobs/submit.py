"""Accepting a job: validate, record it as ``submitted``, queue ``{jobId}``.

With an ``Idempotency-Key``, :func:`submit_job_once` makes the submit idempotent with the
Powertools idempotency utility: the same key and the same body (compared as parsed JSON) answer
the first submit's job for 24 hours, with no second record or message; the same key with another
body is refused (422). A submit that fails (bad spec, queue down) leaves no trace under the key,
so it can be retried with the same key. Keys are scoped to the caller's API key when there is one.
"""

from __future__ import annotations

import logging
from typing import Any

from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig, idempotent_function
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyPersistenceLayerError,
    IdempotencyValidationError,
)

from autovid.aws.idempotency import idempotency_store
from autovid.aws.jobs import JobsTable
from autovid.aws.queue import send_job
from autovid.core.config import Limits, Settings
from autovid.core.errors import (
    AutoVidError,
    FieldError,
    ForbiddenDestinationError,
    IdempotencyKeyInUseError,
    IdempotencyKeyReusedError,
    InvalidSpecError,
    QueueUnavailableError,
    UpstreamUnavailableError,
)
from autovid.jobs.destinations import check_destination
from autovid.jobs.records import JobError, JobResponse, new_job_record
from autovid.jobs.transitions import JobStatusManager
from autovid.spec import parse_spec

log = logging.getLogger(__name__)

IDEMPOTENCY_KEY_TTL_SECONDS = 24 * 3600


def submit_job(raw_spec: Any, *, settings: Settings, limits: Limits, api_key_id: str | None = None) -> JobResponse:
    """Record the job under the caller's API key (``api_key_id``: its listing scope) and queue it.
    Raises InvalidSpecError (400) or QueueUnavailableError (503, the job is marked failed)."""
    spec = parse_spec(raw_spec, limits)
    try:  # known now: refuse at once rather than fail the job at ValidateJob
        check_destination(spec, settings.bucket_name, settings.extra_output_buckets)
    except ForbiddenDestinationError as exc:
        raise InvalidSpecError([FieldError("output.destination", exc.message)]) from exc
    record = new_job_record(spec, ttl_seconds=settings.jobs_ttl_seconds, api_key_id=api_key_id)
    table = JobsTable(settings.jobs_table)
    table.create(record)
    try:
        send_job(settings.job_queue_url, record["jobId"])
    except AutoVidError as exc:
        # Nothing will ever pick the job up, so it must not stay `submitted`.
        error = JobError(
            type="QueueUnavailable", message="the job could not be queued; submit it again", state="Submit"
        )
        try:
            JobStatusManager(table).mark_failed(record["jobId"], error)
        except AutoVidError:
            log.exception("could not mark the unqueued job failed", extra={"jobId": record["jobId"]})
        raise QueueUnavailableError(f"job {record['jobId']} could not be queued: {exc}") from exc
    return JobResponse.from_record(record, with_history=False)


def submit_job_once(
    idempotency_key: str,
    caller: str | None,
    raw_spec: Any,
    *,
    settings: Settings,
    limits: Limits,
    lambda_context: Any = None,
) -> tuple[dict[str, Any], bool]:
    """:func:`submit_job` at most once per (caller, key) and body within 24 h: the response body,
    and whether it is the answer of an earlier submit (a replay).

    Raises IdempotencyKeyReusedError (another body), IdempotencyKeyInUseError (the first request
    is still running) or UpstreamUnavailableError (the idempotency table cannot be reached)."""
    replayed = False

    def note_replay(response: Any, _record: Any) -> Any:
        nonlocal replayed
        replayed = True
        return response

    config = IdempotencyConfig(
        event_key_jmespath="key",
        payload_validation_jmespath="body",
        expires_after_seconds=IDEMPOTENCY_KEY_TTL_SECONDS,
        response_hook=note_replay,
    )
    if lambda_context is not None:  # an in-progress key expires when this invocation would have timed out
        config.register_lambda_context(lambda_context)

    @idempotent_function(
        data_keyword_argument="request",
        persistence_store=idempotency_store(settings.idempotency_table),
        config=config,
        key_prefix="submit",
    )
    def submit(request: dict[str, Any]) -> dict[str, Any]:
        return submit_job(request["body"], settings=settings, limits=limits, api_key_id=caller).body()

    try:
        body = submit(request={"key": f"{caller or '-'}:{idempotency_key}", "body": raw_spec})
    except IdempotencyValidationError as exc:
        raise IdempotencyKeyReusedError(
            "this Idempotency-Key was used with a different request body in the last 24 hours; "
            "send the same body to get the same job, or use a new key"
        ) from exc
    except IdempotencyAlreadyInProgressError as exc:
        raise IdempotencyKeyInUseError("a request with this Idempotency-Key is still being processed; retry") from exc
    except IdempotencyPersistenceLayerError as exc:
        raise UpstreamUnavailableError(f"the idempotency table could not be reached: {exc}") from exc
    return body, replayed
