"""HTTP concerns shared by the API Lambdas: the resolver, the error body and request checks.

Every error answers ``{"error", "details", "timestamp"}`` with ``Content-Type: application/json``.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable
from http import HTTPStatus
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, CORSConfig, Response, content_types
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent
from pydantic import BaseModel

from autovid.core.clock import iso, utc_now
from autovid.core.config import Limits
from autovid.core.errors import (
    FieldError,
    IdempotencyKeyInUseError,
    IdempotencyKeyReusedError,
    InvalidQueryError,
    InvalidSpecError,
    JobNotFoundError,
    JobStatusConflictError,
    QueueUnavailableError,
    UpstreamUnavailableError,
)

ALL_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
QUEUE_RETRY_AFTER_SECONDS = 30


class ErrorDetail(BaseModel):
    field: str
    message: str


class ErrorBody(BaseModel):
    """Every error the functions answer: what went wrong, and each field's reason."""

    error: str
    details: list[ErrorDetail]
    timestamp: str


class GatewayMessage(BaseModel):
    """What API Gateway itself answers (403: no such route, or a missing or wrong API key; 429)."""

    message: str


_ERROR_DESCRIPTIONS = {
    400: "invalid job id, spec, JSON, Idempotency-Key or query parameter; `details` names each field and why",
    404: "no such job",
    405: "method not allowed on this path (see the Allow header)",
    409: "a request with the same Idempotency-Key is still being processed; retry",
    413: "request body over the limit",
    415: "the body is not JSON",
    422: "the Idempotency-Key was used with another body",
    503: "a dependency is briefly unavailable; retry after Retry-After seconds",
}


def documented_responses(
    success: int,
    model: type[BaseModel] | None,
    description: str,
    *errors: int,
    error_descriptions: dict[int, str] | None = None,
) -> dict[int, Any]:
    """The ``responses`` of a route for the OpenAPI document (``scripts/openapi.py``); a success
    without a ``model`` has no body (204). ``error_descriptions`` overrides the general ones."""
    answer: dict[str, Any] = {"description": description}
    if model is not None:
        answer["content"] = {"application/json": {"model": model}}
    responses: dict[int, Any] = {
        success: answer,
        403: {
            "description": "API Gateway: missing or wrong x-api-key, or no such route",
            "content": {"application/json": {"model": GatewayMessage}},
        },
    }
    for code in errors:
        responses[code] = {
            "description": (error_descriptions or {}).get(code, _ERROR_DESCRIPTIONS[code]),
            "content": {"application/json": {"model": ErrorBody}},
        }
    return responses


class RequestError(Exception):
    """A request refused before it reaches the domain; carries its HTTP status."""

    def __init__(self, status: HTTPStatus, error: str, details: Iterable[FieldError] = ()):
        super().__init__(error)
        self.status = status
        self.error = error
        self.details = list(details)


def error_response(
    status: HTTPStatus, error: str, details: Iterable[FieldError] = (), headers: dict[str, str] | None = None
) -> Response:
    body = {"error": error, "details": [d.as_dict() for d in details], "timestamp": iso(utc_now())}
    return Response(
        status_code=status.value,
        content_type=content_types.APPLICATION_JSON,
        body=json.dumps(body),
        headers=headers or {},
    )


def json_response(status: HTTPStatus, body: dict[str, Any], headers: dict[str, str] | None = None) -> Response:
    return Response(
        status_code=status.value,
        content_type=content_types.APPLICATION_JSON,
        body=json.dumps(body),
        headers=headers or {},
    )


def create_resolver(logger: Logger, *, cors_allow_origin: str) -> APIGatewayRestResolver:
    """A resolver with CORS (off when ``cors_allow_origin`` is empty) and the standard error bodies."""
    origin = cors_allow_origin
    app = APIGatewayRestResolver(cors=CORSConfig(allow_origin=origin, max_age=300) if origin else None)

    @app.exception_handler(RequestError)
    def _request_error(exc: RequestError) -> Response:
        return error_response(exc.status, exc.error, exc.details)

    @app.exception_handler(InvalidSpecError)
    def _invalid_spec(exc: InvalidSpecError) -> Response:
        count = len(exc.errors)
        return error_response(
            HTTPStatus.BAD_REQUEST, f"invalid job spec: {count} error{'s' if count != 1 else ''}", exc.errors
        )

    @app.exception_handler(InvalidQueryError)
    def _invalid_query(exc: InvalidQueryError) -> Response:
        fields = sorted({e.field for e in exc.errors})
        return error_response(HTTPStatus.BAD_REQUEST, f"invalid query parameter: {', '.join(fields)}", exc.errors)

    @app.exception_handler(JobStatusConflictError)
    def _status_conflict(exc: JobStatusConflictError) -> Response:
        return error_response(HTTPStatus.CONFLICT, f"the job is {exc.status}", [FieldError("status", exc.message)])

    @app.exception_handler(JobNotFoundError)
    def _not_found(exc: JobNotFoundError) -> Response:
        return error_response(HTTPStatus.NOT_FOUND, "job not found", [FieldError("jobId", exc.message)])

    @app.exception_handler(QueueUnavailableError)
    def _queue_unavailable(exc: QueueUnavailableError) -> Response:
        logger.error("job could not be queued", extra={"reason": exc.message})
        return error_response(
            HTTPStatus.SERVICE_UNAVAILABLE,
            "the job could not be queued and was marked failed; submit it again",
            headers={"Retry-After": str(QUEUE_RETRY_AFTER_SECONDS)},
        )

    @app.exception_handler(IdempotencyKeyReusedError)
    def _key_reused(exc: IdempotencyKeyReusedError) -> Response:
        return error_response(
            HTTPStatus.UNPROCESSABLE_ENTITY, "Idempotency-Key reused", [FieldError("Idempotency-Key", exc.message)]
        )

    @app.exception_handler(IdempotencyKeyInUseError)
    def _key_in_use(exc: IdempotencyKeyInUseError) -> Response:
        return error_response(
            HTTPStatus.CONFLICT,
            "Idempotency-Key in use",
            [FieldError("Idempotency-Key", exc.message)],
            headers={"Retry-After": "1"},
        )

    @app.exception_handler(UpstreamUnavailableError)
    def _upstream_unavailable(exc: UpstreamUnavailableError) -> Response:
        logger.error("a dependency is unavailable", extra={"reason": exc.message})
        return error_response(
            HTTPStatus.SERVICE_UNAVAILABLE,
            "the service is briefly unavailable; retry",
            headers={"Retry-After": str(QUEUE_RETRY_AFTER_SECONDS)},
        )

    @app.exception_handler(Exception)
    def _unexpected(exc: Exception) -> Response:
        logger.exception("unhandled error")
        return error_response(HTTPStatus.INTERNAL_SERVER_ERROR, "internal error")

    @app.not_found
    def _no_route(_exc: Exception) -> Response:
        return error_response(HTTPStatus.NOT_FOUND, f"no route for {app.current_event.path}")

    return app


def refuse_other_methods(app: APIGatewayRestResolver, path: str, allowed: Iterable[str], *, cors_enabled: bool) -> None:
    """Answer 405 with an Allow header for every method of ``path`` that is not ``allowed``
    (OPTIONS stays with the CORS preflight when CORS is on)."""
    allowed = sorted(allowed)
    others = [m for m in ALL_METHODS if m not in allowed and not (m == "OPTIONS" and cors_enabled)]

    def _method_not_allowed(**_path_params: str) -> Response[ErrorBody]:
        return error_response(
            HTTPStatus.METHOD_NOT_ALLOWED,
            f"method {app.current_event.http_method} is not allowed on {path}; use {', '.join(allowed)}",
            headers={"Allow": ", ".join(allowed)},
        )

    app.route(path, method=others, include_in_schema=False)(_method_not_allowed)


IDEMPOTENCY_KEY_MAX_LENGTH = 255


def idempotency_key(event: APIGatewayProxyEvent) -> str | None:
    """The ``Idempotency-Key`` header: None when absent; 1 to 255 printable ASCII characters."""
    headers = {name.lower(): value for name, value in (event.headers or {}).items()}
    key = headers.get("idempotency-key")
    if key is None:
        return None
    if not 1 <= len(key) <= IDEMPOTENCY_KEY_MAX_LENGTH or not all(" " <= c <= "~" for c in key):
        raise RequestError(
            HTTPStatus.BAD_REQUEST,
            "invalid Idempotency-Key",
            [FieldError("Idempotency-Key", f"must be 1 to {IDEMPOTENCY_KEY_MAX_LENGTH} printable ASCII characters")],
        )
    return key


def caller_api_key_id(event: APIGatewayProxyEvent) -> str | None:
    """The id of the API key the request came with (API Gateway sets it when keys are required)."""
    identity = (event.raw_event.get("requestContext") or {}).get("identity") or {}
    return identity.get("apiKeyId") or None


def json_body(event: APIGatewayProxyEvent, limits: Limits) -> Any:
    """The decoded JSON body, or a RequestError with 413, 415 or 400."""
    try:
        data = (
            base64.b64decode(event.body or "", validate=True)
            if event.is_base64_encoded
            else (event.body or "").encode()
        )
    except binascii.Error as exc:
        raise RequestError(
            HTTPStatus.BAD_REQUEST, "request body is not valid base64", [FieldError("body", "is not valid base64")]
        ) from exc
    if len(data) > limits.max_request_body_bytes:
        raise RequestError(
            HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
            f"request body is {len(data)} bytes; the limit is {limits.max_request_body_bytes}",
            [FieldError("body", f"must be at most {limits.max_request_body_bytes} bytes")],
        )
    content_type = event.headers.get("content-type")  # Powertools' headers ignore case
    declared_json = content_type is not None and _is_json_media_type(content_type)
    if content_type is not None and not declared_json:
        raise RequestError(
            HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
            f"Content-Type {content_type!r} is not supported; send application/json",
            [FieldError("Content-Type", "must be application/json")],
        )
    try:
        return json.loads(data, parse_constant=_refuse_non_standard_number)
    except RecursionError as exc:
        raise RequestError(
            HTTPStatus.BAD_REQUEST, "request body is nested too deeply", [FieldError("body", "is nested too deeply")]
        ) from exc
    except (UnicodeDecodeError, ValueError) as exc:
        if not declared_json:
            raise RequestError(
                HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
                "request body is not JSON; send a JSON job spec with Content-Type: application/json",
                [FieldError("body", "is not JSON")],
            ) from exc
        raise RequestError(
            HTTPStatus.BAD_REQUEST, "request body is not valid JSON", [FieldError("body", f"invalid JSON: {exc}")]
        ) from exc


def _is_json_media_type(content_type: str) -> bool:
    media_type = content_type.split(";", 1)[0].strip().lower()
    return media_type == "application/json" or media_type.endswith("+json")


def _refuse_non_standard_number(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")
