"""Secrets Manager reads, cached for a few minutes per container (Powertools parameters)."""

from __future__ import annotations

from aws_lambda_powertools.utilities.parameters import SecretsProvider
from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError

from autovid.aws.clients import client
from autovid.aws.errors import aws_call
from autovid.core.errors import UpstreamUnavailableError

SECRET_CACHE_SECONDS = 300


def secret_value(secret_id: str) -> str:
    with aws_call("Secrets Manager GetSecretValue"):
        try:
            value = SecretsProvider(boto3_client=client("secretsmanager")).get(secret_id, max_age=SECRET_CACHE_SECONDS)
        except GetParameterError as exc:  # Powertools wraps the SDK's error
            raise UpstreamUnavailableError(f"cannot read secret {secret_id}: {exc}") from exc
    return str(value)
