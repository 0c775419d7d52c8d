"""What the endpoint answers for an operation it does not implement, and which those are.

moto raises ``NotImplementedError`` for an action its service has no method for (and a few
backends raise it for options they lack). Its server turns that into an HTML page with HTTP 500,
which every AWS SDK retries. AWS answers an operation a service does not know at once, with a 4xx
in the service's protocol, and SDKs do not retry a 4xx:

* JSON protocols (``X-Amz-Target``: Step Functions, DynamoDB, SQS, CloudWatch Logs, ...):
  ``{"__type": "com.amazon.coral.service#UnknownOperationException", "message": ...}``, 400;
* query protocols (``Action=...``: SNS, CloudWatch, IAM, ...): an XML ``ErrorResponse`` with code
  ``InvalidAction``, 400;
* Smithy RPC v2 CBOR (CloudWatch): the same two members, CBOR-encoded, 400;
* REST protocols (Lambda, API Gateway, S3, ...): code ``UnknownOperationException`` in the
  ``x-amzn-ErrorType`` header and a JSON body, 400.

The message names the operation and says that the local endpoint does not emulate it.
"""

from __future__ import annotations

import json
import uuid
from typing import Any
from xml.sax.saxutils import escape

UNKNOWN_OPERATION = "UnknownOperationException"
INVALID_ACTION = "InvalidAction"
STATUS = 400


def operation_name(response: Any) -> str:
    """The operation a moto response object was asked for (``StartMessageMoveTask``)."""
    try:
        return str(response._get_action() or "")
    except Exception:  # noqa: BLE001 - a request moto cannot even route still gets an answer
        return ""


def unknown_operation_response(response: Any, detail: str = "") -> tuple[int, dict[str, str], str | bytes]:
    """``(status, headers, body)`` for an operation the endpoint does not implement, in the
    protocol the request used."""
    headers = {key.lower(): value for key, value in dict(getattr(response, "headers", None) or {}).items()}
    querystring = getattr(response, "querystring", None) or {}
    operation = operation_name(response)
    service = getattr(response, "service_name", "") or "this service"
    message = f"The local endpoint does not emulate {operation or 'this operation'} of {service}"
    if detail:
        message += f" ({detail})"
    request_id = str(uuid.uuid4())
    target = headers.get("x-amz-target")
    content_type = headers.get("content-type", "")
    if content_type.startswith("application/cbor"):
        body_bytes = _cbor_map({"__type": f"com.amazon.coral.service#{UNKNOWN_OPERATION}", "message": message})
        return STATUS, {"Content-Type": "application/cbor", "smithy-protocol": "rpc-v2-cbor",
                        "x-amzn-RequestId": request_id}, body_bytes  # fmt: skip
    if target or content_type.startswith("application/x-amz-json"):
        body = json.dumps({"__type": f"com.amazon.coral.service#{UNKNOWN_OPERATION}", "message": message})
        return STATUS, {"Content-Type": content_type or "application/x-amz-json-1.0",
                        "x-amzn-RequestId": request_id}, body  # fmt: skip
    if "Action" in querystring:
        body = (
            "<ErrorResponse><Error><Type>Sender</Type>"
            f"<Code>{INVALID_ACTION}</Code><Message>{escape(message)}</Message></Error>"
            f"<RequestId>{request_id}</RequestId></ErrorResponse>"
        )
        return STATUS, {"Content-Type": "text/xml", "x-amzn-RequestId": request_id}, body
    body = json.dumps({"message": message, "Message": message})
    return STATUS, {"Content-Type": "application/json", "x-amzn-ErrorType": UNKNOWN_OPERATION,
                    "x-amzn-RequestId": request_id}, body  # fmt: skip


def _cbor_text(text: str) -> bytes:
    data = text.encode()
    size = len(data)
    if size < 24:
        head = bytes([0x60 + size])
    elif size < 0x100:
        head = bytes([0x78, size])
    elif size < 0x10000:
        head = bytes([0x79]) + size.to_bytes(2, "big")
    else:
        head = bytes([0x7A]) + size.to_bytes(4, "big")
    return head + data


def _cbor_map(fields: dict[str, str]) -> bytes:
    """A CBOR map of text to text (fewer than 24 members)."""
    return bytes([0xA0 + len(fields)]) + b"".join(_cbor_text(k) + _cbor_text(v) for k, v in fields.items())


def unimplemented_operations(service: str) -> list[str]:
    """The operations of ``service`` (a boto3 service name) that moto's server has no method for,
    as AWS names them; the patches add some (see :func:`added_operations`)."""
    import botocore.session
    from moto.backends import get_backend  # noqa: F401 - makes sure moto's services import
    from moto.core.utils import camelcase_to_underscores, method_names_from_class

    response_class = _response_class(service)
    implemented = set(method_names_from_class(response_class))
    model = botocore.session.get_session().get_service_model(service)
    return sorted(name for name in model.operation_names if camelcase_to_underscores(name) not in implemented)


def _response_class(service: str) -> Any:
    import importlib

    from moto.core.responses import BaseResponse

    module = importlib.import_module(f"moto.{_MOTO_MODULES.get(service, service)}.responses")
    classes = [
        value
        for value in vars(module).values()
        if isinstance(value, type) and issubclass(value, BaseResponse) and value.__module__ == module.__name__
    ]
    if len(classes) != 1:
        raise LookupError(f"moto.{service}.responses has {len(classes)} response classes")
    return classes[0]


_MOTO_MODULES = {"lambda": "awslambda", "cloudwatch": "cloudwatch", "logs": "logs", "events": "events"}


if __name__ == "__main__":
    import sys

    for name in sys.argv[1:]:
        print(f"{name}: {', '.join(unimplemented_operations(name)) or 'none'}")
