"""Map botocore errors onto the domain's permanent/transient taxonomy by code and status."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import NoReturn

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    IncompleteReadError,
    NoCredentialsError,
    ParamValidationError,
    PartialCredentialsError,
    ReadTimeoutError,
    ResponseStreamingError,
)

from autovid.core.errors import DownloadTimeoutError, PermanentError, UpstreamUnavailableError

# The throttling codes botocore's standard retry mode treats as retryable, plus request timeouts
# that AWS answers with a 4xx status (S3's RequestTimeout is a 400).
TRANSIENT_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "TransactionInProgressException",
        "RequestLimitExceeded",
        "BandwidthLimitExceeded",
        "LimitExceededException",
        "RequestThrottled",
        "SlowDown",
        "PriorRequestNotComplete",
        "EC2ThrottledException",
        "RequestTimeout",
        "RequestTimeoutException",
    }
)


# A request or response stream that timed out or broke off part way.
CUT_OFF = (ReadTimeoutError, ConnectTimeoutError, ConnectionClosedError, ResponseStreamingError, IncompleteReadError)


class AwsRequestError(PermanentError):
    """AWS refused the request for a reason a retry will not fix."""


def is_transient(exc: ClientError) -> bool:
    code = exc.response.get("Error", {}).get("Code", "")
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    return code in TRANSIENT_CODES or status >= 500


def raise_for_client_error(exc: ClientError, operation: str) -> NoReturn:
    code = exc.response.get("Error", {}).get("Code", "Unknown")
    message = exc.response.get("Error", {}).get("Message", "")
    if is_transient(exc):
        raise UpstreamUnavailableError(f"{operation} failed ({code}): {message}") from exc
    raise AwsRequestError(f"{operation} failed ({code}): {message}") from exc


@contextmanager
def aws_call(operation: str) -> Iterator[None]:
    """Translate botocore errors raised inside the block into the domain taxonomy."""
    try:
        yield
    except ClientError as exc:
        raise_for_client_error(exc, operation)
    except (ParamValidationError, NoCredentialsError, PartialCredentialsError) as exc:
        raise AwsRequestError(f"{operation} failed: {exc}") from exc  # a retry cannot fix these
    except CUT_OFF as exc:
        raise DownloadTimeoutError(f"{operation} timed out or was cut off: {exc}") from exc
    except BotoCoreError as exc:
        raise UpstreamUnavailableError(f"{operation} failed: {exc}") from exc  # connection and timeout errors
