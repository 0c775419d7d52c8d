"""The REST API: proxy events in, handler responses out, API Gateway's 403 for undeclared routes."""

from __future__ import annotations

import http.client
import json
from urllib.parse import urlsplit

import pytest


def _request(runtime, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
    url = urlsplit(runtime.api_url)
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.getheaders(), response.read()
    finally:
        connection.close()


def test_get_builds_a_rest_proxy_event(runtime):
    status, headers, body = _request(runtime, "GET", "/items/abc-1?tag=a&tag=b&q=1", headers={"X-Trace": "t1"})

    assert status == 200
    event = json.loads(body)
    assert event["resource"] == "/items/{itemId}"
    assert event["path"] == "/items/abc-1"
    assert event["httpMethod"] == "GET"
    assert event["pathParameters"] == {"itemId": "abc-1"}
    assert event["queryStringParameters"] == {"tag": "b", "q": "1"}
    assert event["multiValueQueryStringParameters"] == {"tag": ["a", "b"], "q": ["1"]}
    assert event["headers"]["X-Trace"] == "t1"
    assert event["multiValueHeaders"]["X-Trace"] == ["t1"]
    assert event["stageVariables"] == {"flavour": "local"}
    assert event["body"] is None and event["isBase64Encoded"] is False
    context = event["requestContext"]
    assert context["stage"] == "v1"
    assert context["resourcePath"] == "/items/{itemId}"
    assert context["httpMethod"] == "GET"
    assert context["identity"]["sourceIp"] == "127.0.0.1"
    assert context["requestId"] and context["apiId"] == runtime.ref("EchoApi")
    assert ("X-Echo", "yes") in headers
    assert [value for key, value in headers if key == "Set-Cookie"] == ["a=1", "b=2"]


def test_post_passes_the_body_and_returns_the_handler_status(runtime):
    status, _, body = _request(
        runtime, "POST", "/items", body=b'{"name": "x"}', headers={"Content-Type": "application/json"}
    )

    assert status == 201
    event = json.loads(body)
    assert json.loads(event["body"]) == {"name": "x"}
    assert event["pathParameters"] is None


def test_binary_request_body_is_base64_encoded(runtime):
    status, _, body = _request(runtime, "PUT", "/files/raw", body=b"\xff\xfe\x00")

    assert status == 200
    assert json.loads(body)["isBase64Encoded"] is True


def test_literal_route_wins_over_path_parameter(runtime):
    _, _, body = _request(runtime, "GET", "/items/special")

    assert json.loads(body)["resource"] == "/items/special"


def test_greedy_path_and_any_method(runtime):
    status, _, body = _request(runtime, "DELETE", "/files/a/b/c.txt")

    assert status == 200
    event = json.loads(body)
    assert event["resource"] == "/files/{proxy+}"
    assert event["pathParameters"] == {"proxy": "a/b/c.txt"}


def test_base64_response_body_is_decoded(runtime):
    status, headers, body = _request(runtime, "GET", "/files/binary")

    assert status == 200
    assert body == b"\x00\x01binary"
    assert ("Content-Type", "application/octet-stream") in headers


def test_malformed_handler_response_is_a_502(runtime):
    status, _, body = _request(runtime, "GET", "/files/broken")

    assert status == 502
    assert json.loads(body) == {"message": "Internal server error"}


def test_handler_exception_is_a_502(runtime):
    runtime.inject_fault("ApiEchoFunction", lambda: RuntimeError("boom"), times=1)

    status, _, body = _request(runtime, "GET", "/items/x")

    assert status == 502
    assert json.loads(body) == {"message": "Internal server error"}


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/nope"),
        ("GET", "/"),
        ("DELETE", "/items/abc"),
        ("PUT", "/items"),
        ("GET", "/files"),
        ("GET", "/items/a/b"),
    ],
)
def test_undeclared_route_or_method_gets_missing_authentication_token(runtime, method, path):
    status, headers, body = _request(runtime, method, path)

    assert status == 403
    assert json.loads(body) == {"message": "Missing Authentication Token"}
    assert ("Content-Type", "application/json") in headers


def test_the_resource_is_chosen_before_the_method():
    from sam_emulator.apigateway.server import RouteTable
    from sam_emulator.template.provision import ApiRoute

    def route(method: str, path: str, function: str) -> ApiRoute:
        return ApiRoute(function_logical_id=function, method=method, path=path, api_logical_id="Api", stage="v1")

    table = RouteTable(
        [
            route("GET", "/items/special", "Special"),
            route("ANY", "/items/{id}", "Item"),
            route("PUT", "/items/{id}", "Put"),
        ]
    )
    assert table.match("GET", "/items/special").route.function_logical_id == "Special"
    assert table.match("POST", "/items/special") is None, "the literal resource has no POST: 403, not {id}"
    assert table.match("PUT", "/items/7").route.function_logical_id == "Put", "an exact method before ANY"
    match = table.match("DELETE", "/items/7")
    assert match.route.function_logical_id == "Item" and match.path_parameters == {"id": "7"}
