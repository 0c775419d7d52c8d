"""Hostile job specs refused at submit: a 4xx whose details name the field and the reason or limit,
nothing recorded or queued, and no connection or DNS lookup attempted while answering.

The attacks that only the validate step can see (a name resolving to a private address, a start
past the video's end, a file that is not media, s3:// places the service may not use) are in
tests/e2e/test_attack_inputs.py.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from support import FakeLambdaContext, api_event, load_handler_module, minimal_spec

Submit = Callable[[str], dict]


@pytest.fixture
def outbound(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Any]]:
    """Every connection and DNS lookup attempted, each refused: submit must not reach anything
    (moto answers AWS calls in process, without sockets)."""
    attempts: list[Any] = []

    def refuse_connect(_sock: socket.socket, address: Any) -> None:
        attempts.append(address)
        raise ConnectionRefusedError(f"test: no outbound connection allowed ({address!r})")

    def refuse_lookup(host: Any, *_args: Any, **_kwargs: Any) -> list:
        attempts.append(host)
        raise socket.gaierror(socket.EAI_NONAME, f"test: no DNS lookup allowed ({host!r})")

    def refuse_create_connection(address: Any, *_args: Any, **_kwargs: Any) -> None:
        attempts.append(address)
        raise ConnectionRefusedError(f"test: no outbound connection allowed ({address!r})")

    monkeypatch.setattr(socket.socket, "connect", refuse_connect)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse_connect)
    monkeypatch.setattr(socket, "create_connection", refuse_create_connection)
    monkeypatch.setattr(socket, "getaddrinfo", refuse_lookup)
    yield attempts


@pytest.fixture
def submit(aws: dict, outbound: list[Any]) -> Submit:
    module = load_handler_module("submit_job")
    return lambda body: module.handler(api_event("POST", "/jobs", body=body), FakeLambdaContext())


def refused(submit: Submit, aws: dict, outbound: list[Any], body: dict | str, status: int = 400) -> dict[str, str]:
    """Submit ``body``; it must be answered ``status`` with nothing stored, queued or contacted.
    Returns the details as {field: message}."""
    response = submit(body if isinstance(body, str) else json.dumps(body))
    assert response["statusCode"] == status, response["body"]
    payload = json.loads(response["body"])
    assert payload["details"], payload
    assert all(d["field"] and d["message"] for d in payload["details"]), payload
    assert aws["dynamodb"].scan(TableName=os.environ["DYNAMODB_JOBS_TABLE"])["Count"] == 0, "nothing recorded"
    queued = aws["sqs"].receive_message(QueueUrl=aws["queue_url"], MaxNumberOfMessages=10).get("Messages", [])
    assert queued == [], "a refused job is never queued, so no step will fetch anything for it"
    assert outbound == [], "no connection or DNS lookup while answering"
    return {d["field"]: d["message"] for d in payload["details"]}


def with_source(field: str, source: str) -> dict:
    spec = minimal_spec()
    if field == "assets.video.source":
        spec["assets"]["video"]["source"] = source
    else:
        spec["assets"]["audio"][1]["source"] = source  # sfx, used by timeline[1]
    return spec


# --- sources -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        ("http://169.254.169.254/latest/meta-data/", "the API accepts s3:// and https:// only"),
        ("https://169.254.169.254/latest/meta-data/", "is link-local (includes the instance metadata service)"),
        ("https://[fd00:ec2::254]/latest/meta-data/", "is private"),  # the metadata service over IPv6
        ("https://localhost/clip.mp4", "https source host localhost is loopback"),
        ("https://media.localhost./clip.mp4", "is loopback"),
        ("https://[::1]/clip.mp4", "https source host [::1] is loopback"),
        ("https://127.0.0.1:8443/clip.mp4", "is loopback"),
        ("https://2130706433/clip.mp4", "2130706433 (127.0.0.1) is loopback"),  # 127.0.0.1 spelled as one number
        ("https://10.0.0.1/clip.mp4", "is private"),
        ("https://[::ffff:10.0.0.1]/clip.mp4", "is private"),  # IPv4-mapped
        ("file:///etc/passwd", "unsupported source 'file:///etc/passwd'"),
        ("/etc/passwd", "the API accepts s3:// and https:// only"),
        ("gopher://example.com/", "the API accepts s3:// and https:// only"),
    ],
)
def test_sources_that_are_not_public_urls_are_refused(
    submit: Submit, aws: dict, outbound: list[Any], source: str, reason: str
) -> None:
    for field in ("assets.video.source", "assets.audio[1].source"):
        details = refused(submit, aws, outbound, with_source(field, source))
        assert list(details) == [field]
        assert reason in details[field], field


def test_loopback_sources_pass_submit_only_where_loopback_fetches_are_allowed(
    submit: Submit, aws: dict, outbound: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """ALLOW_LOOPBACK_FETCH (local mode and tests) lets loopback through; private ranges never."""
    monkeypatch.setenv("ALLOW_LOOPBACK_FETCH", "true")
    for source in ("https://localhost/a.mp3", "https://[::1]/a.mp3", "https://127.0.0.1:8443/a.mp3"):
        response = submit(json.dumps(with_source("assets.audio[1].source", source)))
        assert response["statusCode"] == 202, response["body"]
    spec = with_source("assets.audio[1].source", "https://169.254.169.254/latest/meta-data/")
    response = submit(json.dumps(spec))
    assert response["statusCode"] == 400
    assert "link-local" in json.loads(response["body"])["details"][0]["message"]
    assert outbound == []


# --- output filename ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("filename", "reason"),
    [
        ("../../x.mp4", "must be a plain file name without path separators"),
        ("..\\..\\x.mp4", "must be a plain file name without path separators"),
        ("/etc/cron.d/x.mp4", "must be a plain file name without path separators"),
        ("..", "must not contain '..'"),
        ("x\x00.mp4", "must not contain control characters"),
    ],
)
def test_filenames_that_leave_the_output_prefix_are_refused(
    submit: Submit, aws: dict, outbound: list[Any], filename: str, reason: str
) -> None:
    spec = minimal_spec()
    spec["output"]["filename"] = filename
    assert refused(submit, aws, outbound, spec) == {"output.filename": reason}


def test_a_destination_with_dot_dot_segments_is_refused(submit: Submit, aws: dict, outbound: list[Any]) -> None:
    """Which bucket a destination may name is the validate step's check (tests/e2e)."""
    spec = minimal_spec()
    spec["output"]["destination"] = "s3://bucket/outputs/../work/"
    assert refused(submit, aws, outbound, spec) == {"output.destination": "must not contain '..' segments"}


# --- sizes -------------------------------------------------------------------------------


def test_a_100k_character_tts_text_is_refused_naming_the_limit(submit: Submit, aws: dict, outbound: list[Any]) -> None:
    spec = minimal_spec()
    spec["timeline"][0]["data"]["text"] = "a" * 100_000
    assert refused(submit, aws, outbound, spec) == {"timeline[0].data.text": "has 100000 characters; the limit is 3000"}


def ten_thousand_events() -> dict:
    spec = minimal_spec()
    spec["timeline"] = [{"type": "audio", "start": i / 100, "data": {"assetId": "sfx"}} for i in range(10_000)]
    return spec


def test_10000_timeline_events_are_over_the_body_limit(submit: Submit, aws: dict, outbound: list[Any]) -> None:
    assert refused(submit, aws, outbound, ten_thousand_events(), status=413) == {"body": "must be at most 262144 bytes"}


def test_10000_timeline_events_are_refused_by_count_within_the_body_limit(
    submit: Submit, aws: dict, outbound: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the body cap raised, the event count is refused, as one error rather than 10,000."""
    monkeypatch.setenv("MAX_REQUEST_BODY_BYTES", str(4 * 1024 * 1024))
    assert refused(submit, aws, outbound, ten_thousand_events()) == {"timeline": "has 10000 events; the limit is 500"}
    bare = minimal_spec()
    bare["timeline"] = [{}] * 10_000  # within the default body cap too
    monkeypatch.delenv("MAX_REQUEST_BODY_BYTES")
    assert refused(submit, aws, outbound, bare) == {"timeline": "has 10000 events; the limit is 500"}


# --- numbers -----------------------------------------------------------------------------

VOLUME_FIELDS = [
    ("assets", "video", "volume"),
    ("backgroundMusic", "volume"),
    ("timeline", 0, "data", "volume"),
    ("timeline", 0, "data", "duckingLevel"),
    ("timeline", 1, "data", "volume"),
    ("timeline", 1, "data", "duckingLevel"),
]


def path_of(loc: tuple[str | int, ...]) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else (f".{p}" if i else p) for i, p in enumerate(loc))


def set_at(spec: dict, loc: tuple[str | int, ...], value: Any) -> dict:
    target: Any = spec
    for key in loc[:-1]:
        target = target[key]
    target[loc[-1]] = value
    return spec


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (-0.5, "Input should be greater than or equal to 0"),
        (-1e-9, "Input should be greater than or equal to 0"),
        (1.5, "Input should be less than or equal to 1"),
        ("NaN", "Input should be a finite number"),
        ("-Infinity", "Input should be a finite number"),
    ],
)
def test_negative_out_of_range_and_nan_volumes_are_refused(
    submit: Submit, aws: dict, outbound: list[Any], value: Any, reason: str
) -> None:
    for loc in VOLUME_FIELDS:
        assert refused(submit, aws, outbound, set_at(minimal_spec(), loc, value)) == {path_of(loc): reason}


@pytest.mark.parametrize("literal", ["NaN", "-Infinity", "Infinity"])
def test_nan_and_infinity_literals_are_not_json(submit: Submit, aws: dict, outbound: list[Any], literal: str) -> None:
    """JSON has no NaN: the body is refused before any field is read, so the detail is `body`."""
    body = json.dumps(minimal_spec()).replace('"duckingLevel": 0.2', f'"duckingLevel": {literal}')
    assert refused(submit, aws, outbound, body) == {"body": f"invalid JSON: {literal} is not valid JSON"}


def test_a_number_that_overflows_to_infinity_is_refused_at_its_field(
    submit: Submit, aws: dict, outbound: list[Any]
) -> None:
    body = json.dumps(minimal_spec()).replace('"duckingLevel": 0.2', '"duckingLevel": 1e999')
    assert refused(submit, aws, outbound, body) == {"timeline[0].data.duckingLevel": "Input should be a finite number"}


OUT_OF_RANGE = "is out of range: numbers must be 0 or have a magnitude from 1e-130 to below 1e126"


@pytest.mark.parametrize(
    ("loc", "value"),
    [
        (("timeline", 0, "start"), 1e200),
        (("timeline", 0, "start"), 1e-200),
        (("timeline", 1, "data", "volume"), 1e-140),
        (("backgroundMusic", "crossfadeDuration"), 1e300),
        (("output", "encoding"), {"fps": 1e-300}),
        (("notifications",), {"webhook": {"url": "https://hooks.example.com/", "metadata": {"n": 10**50}}}),
    ],
    ids=lambda v: path_of(v) if isinstance(v, tuple) else repr(v)[:12],
)
def test_numbers_the_jobs_table_cannot_store_are_refused_not_a_500(
    submit: Submit, aws: dict, outbound: list[Any], loc: tuple[str | int, ...], value: Any
) -> None:
    """These were a 500 (boto3's DynamoDB number context raised Overflow/Underflow/Rounded)."""
    details = refused(submit, aws, outbound, set_at(minimal_spec(), loc, value))
    assert len(details) == 1
    field, message = next(iter(details.items()))
    assert field.startswith(path_of(loc)), field
    assert message.startswith(OUT_OF_RANGE)


def test_the_edges_of_the_storable_range_are_accepted(submit: Submit, aws: dict) -> None:
    spec = minimal_spec()
    spec["timeline"][0]["start"] = 9.99e125
    spec["timeline"][1]["start"] = 1e-130
    spec["notifications"] = {"webhook": {"url": "https://hooks.example.com/", "metadata": {"n": 10**37}}}
    response = submit(json.dumps(spec))
    assert response["statusCode"] == 202, response["body"]


# --- the whole body ----------------------------------------------------------------------


@pytest.mark.parametrize("body", ["[]", "1", '"spec"', "null"])
def test_a_body_that_is_not_an_object_names_the_body(submit: Submit, aws: dict, outbound: list[Any], body: str) -> None:
    assert refused(submit, aws, outbound, body) == {"body": "the job spec must be a JSON object"}


def test_an_empty_key_is_named_in_its_path(submit: Submit, aws: dict, outbound: list[Any]) -> None:
    spec = minimal_spec()
    spec[""] = 1
    spec["jobInfo"] = {"": "x"}
    assert refused(submit, aws, outbound, spec) == {'[""]': "unknown field", 'jobInfo[""]': "unknown field"}


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("https://169.254.169.254/latest/meta-data/", "link-local"),
        ("https://localhost/hook", "loopback"),
        ("https://[::1]/hook", "loopback"),
        ("https://10.0.0.1/hook", "private"),
    ],
)
def test_a_webhook_to_an_internal_address_is_refused_at_submit(
    submit: Submit, aws: dict, outbound: list[Any], url: str, reason: str
) -> None:
    spec = minimal_spec()
    spec["notifications"] = {"webhook": {"url": url}}
    details = refused(submit, aws, outbound, spec)
    assert list(details) == ["notifications.webhook.url"]
    assert "webhook host" in details["notifications.webhook.url"]
    assert reason in details["notifications.webhook.url"] and "public internet" in details["notifications.webhook.url"]


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({"X-Evil": "a\r\nX-Injected: 1"}, "printable ASCII, without line breaks"),
        ({"Bad Name": "x"}, "must be an HTTP token"),
        ({"Transfer-Encoding": "chunked"}, "is set by the service"),
        ({"x-autovid-signature": "t=1,v1=00"}, "is set by the service"),
        ({"X-Euro": "\u20ac"}, "printable ASCII"),
    ],
)
def test_webhook_headers_that_could_break_or_forge_the_request_are_refused(
    submit: Submit, aws: dict, outbound: list[Any], headers: dict, reason: str
) -> None:
    spec = minimal_spec()
    spec["notifications"] = {"webhook": {"url": "https://hooks.example.com/auto-vid", "headers": headers}}
    details = refused(submit, aws, outbound, spec)
    assert list(details) == ["notifications.webhook.headers"]
    assert reason in details["notifications.webhook.headers"]
