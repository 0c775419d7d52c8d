"""botocore errors map onto the permanent/transient taxonomy by code, status and type."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError, ParamValidationError

from autovid.aws.errors import AwsRequestError, aws_call
from autovid.errors import PermanentError, TransientError, UpstreamUnavailableError


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
        (ParamValidationError(report="bad"), AwsRequestError),
        (NoCredentialsError(), AwsRequestError),
    ],
)
def test_classification(error: Exception, expected: type) -> None:
    with pytest.raises(expected) as caught, aws_call("Op"):
        raise error
    assert isinstance(caught.value, TransientError if expected is UpstreamUnavailableError else PermanentError)
