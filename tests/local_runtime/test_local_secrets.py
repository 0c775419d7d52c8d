"""``AWS::SecretsManager::Secret``: generated and given values, Ref as the ARN, `autovid up` output."""

from __future__ import annotations

import json
import re
import string

import pytest

from autovid_cli.up import secret_label, startup_banner, startup_summary
from sam_emulator.errors import TemplateError
from sam_emulator.template.provision import generate_secret_string


def test_a_generated_secret_has_the_requested_length_and_characters(runtime):
    value = runtime.stack.secrets["SigningSecret"]
    secretsmanager = runtime.client("secretsmanager")

    assert len(value) == 48  # PasswordLength
    assert set(value) <= set(string.ascii_letters + string.digits)  # ExcludePunctuation
    assert secretsmanager.get_secret_value(SecretId=runtime.ref("SigningSecret"))["SecretString"] == value
    description = secretsmanager.describe_secret(SecretId=runtime.ref("SigningSecret"))
    assert description["Name"] == "sam-app-SigningSecret"
    assert description["Description"] == "Signs test webhooks."
    # Ref is the ARN Secrets Manager assigned, random suffix included.
    assert runtime.ref("SigningSecret") == description["ARN"]
    assert re.fullmatch(r"arn:aws:secretsmanager:us-east-1:123456789012:secret:sam-app-SigningSecret-\w{6}",
                        description["ARN"])  # fmt: skip


def test_a_function_gets_the_arn_and_reads_the_value_through_the_endpoint(runtime):
    result = runtime.invoke("SecretReaderFunction", {})

    assert not result.is_function_error, result.json()
    assert result.json() == {
        "arn": runtime.ref("SigningSecret"),
        "value": runtime.stack.secrets["SigningSecret"],
        "name": "sam-app-SigningSecret",
    }


def test_a_given_secret_string_is_stored_as_is_and_not_listed_as_generated(runtime):
    secret = runtime.client("secretsmanager").get_secret_value(SecretId=runtime.ref("GivenSecret"))

    assert secret["SecretString"] == '{"user": "local"}'
    assert secret["Name"] == "sam-app/given"
    assert "GivenSecret" not in runtime.stack.secrets


def test_autovid_up_prints_generated_secrets(runtime):
    value = runtime.stack.secrets["SigningSecret"]

    summary = json.loads(json.dumps(startup_summary(runtime)))
    assert summary["secrets"] == {"SigningSecret": value}
    assert f"  Signing secret (SigningSecret): {value}" in startup_banner(runtime).splitlines()


def test_secret_labels():
    assert secret_label("WebhookSigningSecret") == "Webhook signing secret"
    assert secret_label("ApiToken") == "Api token secret"


def test_generate_secret_string_options():
    spaced = generate_secret_string("S", {"PasswordLength": 200, "IncludeSpace": True, "ExcludeCharacters": "abc"})
    assert len(spaced) == 200 and " " in spaced and not set("abc") & set(spaced)
    assert len(generate_secret_string("S", {})) == 32
    digits = generate_secret_string("S", {"PasswordLength": 4, "ExcludeLowercase": True, "ExcludeUppercase": True,
                                          "ExcludePunctuation": True})  # fmt: skip
    assert len(digits) == 4 and digits.isdigit()
    # One of each included class at least (RequireEachIncludedType defaults to true), even when short.
    short = generate_secret_string("S", {"PasswordLength": 4})
    assert {any(c in chars for c in short) for chars in (string.ascii_lowercase, string.ascii_uppercase,
                                                         string.digits, string.punctuation)} == {True}  # fmt: skip
    document = json.loads(
        generate_secret_string("S", {"SecretStringTemplate": '{"user": "me"}', "GenerateStringKey": "password"})
    )
    assert document["user"] == "me" and len(document["password"]) == 32
    with pytest.raises(TemplateError):
        generate_secret_string("S", {"SecretStringTemplate": "{}"})
    with pytest.raises(TemplateError):
        generate_secret_string("S", {"PasswordLength": 2})  # four classes required, two characters
