"""botocore errors map onto the permanent/transient taxonomy by code, status and type."""

from __future__ import annotations

import pytest
from botocore.exceptions import (
    ClientError,
    EndpointConnectionError,
    IncompleteReadError,
    NoCredentialsError,
    ParamValidationError,
    ReadTimeoutError,
)

from autovid.aws.errors import AwsRequestError, aws_call
from autovid.core.errors import DownloadTimeoutError, PermanentError, TransientError, UpstreamUnavailableError


def client_error(code: str, status: int) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "m"}, "ResponseMetadata": {"HTTPStatusCode": status}}, "Op")


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (client_error("ThrottlingException", 400), UpstreamUnavailableError),
        (client_error("ProvisionedThroughputExceededException", 400), UpstreamUnavailableError),
        (client_error("SlowDown", 503), UpstreamUnavailableError),
        (client_error("RequestTimeout", 400), UpstreamUnavailableError),
        (client_error("InternalServerError", 500), UpstreamUnavailableError),
        (client_error("ValidationException", 400), AwsRequestError),
        (client_error("AccessDeniedException", 403), AwsRequestError),
        (EndpointConnectionError(endpoint_url="https://dynamodb"), UpstreamUnavailableError),
        (ReadTimeoutError(endpoint_url="https://s3"), DownloadTimeoutError),
        (IncompleteReadError(actual_bytes=1, expected_bytes=2), DownloadTimeoutError),
        (ParamValidationError(report="bad"), AwsRequestError),
        (NoCredentialsError(), AwsRequestError),
    ],
)
def test_classification(error: Exception, expected: type) -> None:
    with pytest.raises(expected) as caught, aws_call("Op"):
        raise error
    transient = expected in (UpstreamUnavailableError, DownloadTimeoutError)
    assert isinstance(caught.value, TransientError if transient else PermanentError)
