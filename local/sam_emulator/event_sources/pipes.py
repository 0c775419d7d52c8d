"""``AWS::Pipes::Pipe`` from an SQS queue to a Step Functions state machine.

moto records pipes but moves no messages, so each pipe gets a poller thread that behaves like
EventBridge Pipes for this pair:

* receives up to ``BatchSize`` messages (``SourceParameters.SqsQueueParameters``);
* turns each message into the SQS record Pipes passes on, applies ``InputTemplate`` to each
  record (``<$.path>`` placeholders; a JSON ``body`` is parsed for paths), and sends the batch
  as a JSON array, even for a batch of one, as Pipes does for Step Functions targets;
* calls ``StartExecution`` (``FIRE_AND_FORGET``) and deletes the messages only after it
  succeeded. On failure nothing is deleted: the messages become visible again after the
  queue's visibility timeout and SQS moves them to the DLQ after ``maxReceiveCount``.

The execution name is derived from the batch's message ids, so a batch redelivered after a
failed delete does not start a second execution (``ExecutionAlreadyExists`` counts as started).
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from sam_emulator.event_sources.pollers import BackgroundPoller

logger = logging.getLogger("sam_emulator")

_PLACEHOLDER = re.compile(r"<(\$[^<>]*|aws\.pipes\.[a-z.\-]+)>")
_PATH_TOKEN = re.compile(r"\.([^.\[\]]+)|\[(\d+)\]|\[\*\]|\['([^']*)'\]")
_SQS_RECEIVE_MAX = 10


@dataclass
class PipeSpec:
    logical_id: str
    name: str
    source_arn: str
    target_arn: str
    batch_size: int = 10
    batching_window_seconds: float = 0.0
    input_template: str | None = None
    invocation_type: str = "FIRE_AND_FORGET"
    desired_state: str = "RUNNING"
    source_queue_url: str = ""
    notes: list[str] = field(default_factory=list)

    @classmethod
    def from_properties(cls, logical_id: str, name: str, props: dict[str, Any]) -> PipeSpec:
        source_parameters = props.get("SourceParameters") or {}
        sqs_parameters = source_parameters.get("SqsQueueParameters") or {}
        target_parameters = props.get("TargetParameters") or {}
        sfn_parameters = target_parameters.get("StepFunctionStateMachineParameters") or {}
        spec = cls(
            logical_id=logical_id,
            name=name,
            source_arn=props["Source"],
            target_arn=props["Target"],
            batch_size=int(sqs_parameters.get("BatchSize", 10)),
            batching_window_seconds=float(sqs_parameters.get("MaximumBatchingWindowInSeconds", 0)),
            input_template=target_parameters.get("InputTemplate"),
            invocation_type=sfn_parameters.get("InvocationType", "FIRE_AND_FORGET"),
            desired_state=props.get("DesiredState", "RUNNING"),
        )
        if ":states:" not in spec.target_arn:
            spec.notes.append(f"{logical_id}: only Step Functions targets are emulated; pipe not started")
            spec.desired_state = "STOPPED"
        for unsupported in ("Enrichment", "FilterCriteria"):
            if unsupported in props or unsupported in source_parameters:
                spec.notes.append(f"{logical_id}: {unsupported} is not applied locally")
        if spec.invocation_type != "FIRE_AND_FORGET":
            spec.notes.append(f"{logical_id}: InvocationType {spec.invocation_type} runs as FIRE_AND_FORGET locally")
        return spec


# --- records and input templates ----------------------------------------------------------


def sqs_record(message: dict[str, Any], *, queue_arn: str, region: str) -> dict[str, Any]:
    """An SQS message as Pipes (and Lambda) present it."""
    attributes = {
        name: {
            "stringValue": value.get("StringValue"),
            "binaryValue": value.get("BinaryValue"),
            "stringListValues": [],
            "binaryListValues": [],
            "dataType": value.get("DataType"),
        }
        for name, value in (message.get("MessageAttributes") or {}).items()
    }
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": message.get("Attributes") or {},
        "messageAttributes": attributes,
        "md5OfBody": message.get("MD5OfBody"),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }


def json_path(document: Any, path: str) -> Any:
    """The subset of JSONPath Pipes documents: dots, ``[n]``, ``['key']`` and ``[*]``."""
    if path.strip() == "$":
        return document
    values = [document]
    for match in _PATH_TOKEN.finditer(path, 1):
        key, index, quoted = match.group(1), match.group(2), match.group(3)
        next_values: list[Any] = []
        for value in values:
            if match.group(0) == "[*]" or key == "*":
                if isinstance(value, dict):
                    next_values.extend(value.values())
                elif isinstance(value, list):
                    next_values.extend(value)
            elif index is not None and isinstance(value, list) and int(index) < len(value):
                next_values.append(value[int(index)])
            elif (key or quoted) is not None and isinstance(value, dict) and (key or quoted) in value:
                next_values.append(value[key or quoted])
        values = next_values
    wildcard = "*" in path
    if wildcard:
        return values
    return values[0] if values else None


def render_input_template(template: str, record: dict[str, Any], reserved: dict[str, Any]) -> Any:
    """Apply an ``InputTemplate`` to one record; returns the JSON value the target receives.

    Placeholders inside a JSON string are replaced by the value's text; elsewhere by its JSON.
    """
    document = dict(record)
    if isinstance(document.get("body"), str):
        try:
            document["body"] = json.loads(document["body"])
        except ValueError:
            pass  # not JSON: paths below body find nothing, $.body is the string
    json_mode = template.lstrip()[:1] in ("{", "[")
    pieces: list[str] = []
    in_string = False
    position = 0
    for match in _PLACEHOLDER.finditer(template):
        literal = template[position : match.start()]
        in_string = _string_state_after(literal, in_string) if json_mode else True
        pieces.append(literal)
        name = match.group(1)
        value = reserved.get(name) if name.startswith("aws.pipes.") else json_path(document, name)
        pieces.append(_placeholder_text(value, inside_string=in_string, json_mode=json_mode))
        position = match.end()
    pieces.append(template[position:])
    rendered = "".join(pieces)
    try:
        return json.loads(rendered)
    except ValueError:
        return rendered


def _string_state_after(text: str, in_string: bool) -> bool:
    escaped = False
    for character in text:
        if escaped:
            escaped = False
        elif character == "\\" and in_string:
            escaped = True
        elif character == '"':
            in_string = not in_string
    return in_string


def _placeholder_text(value: Any, *, inside_string: bool, json_mode: bool) -> str:
    if inside_string:
        text = value if isinstance(value, str) else json.dumps(value)
        return json.dumps(text)[1:-1] if json_mode else text
    if isinstance(value, str) and not json_mode:
        return value
    return json.dumps(value)


# --- the poller -----------------------------------------------------------------------------


@dataclass
class PipeStats:
    batches_received: int = 0
    executions_started: int = 0
    start_failures: int = 0
    last_error: str | None = None


class SqsToStateMachinePipe(BackgroundPoller):
    """Moves messages from one queue to executions of one state machine, in its own thread."""

    def __init__(
        self,
        spec: PipeSpec,
        *,
        client_factory: Callable[[str], Any],
        queue_arn: str,
        region: str,
        pipe_arn: str,
        poll_seconds: float = 1.0,
    ):
        self.spec = spec
        self.stats = PipeStats()
        self._client_factory = client_factory
        self._queue_arn = queue_arn
        self._region = region
        self._pipe_arn = pipe_arn
        self._poll_seconds = poll_seconds
        super().__init__()

    def start(self) -> None:
        if self.spec.desired_state != "RUNNING":
            return
        self._start_thread(f"pipe:{self.spec.logical_id}")

    def _run(self) -> None:
        sqs = self._client_factory("sqs")
        sfn = self._client_factory("stepfunctions")
        while not self._stopping.is_set():
            try:
                messages = self._receive_batch(sqs)
            except (BotoCoreError, ClientError) as error:
                if self._stopping.is_set():
                    return
                logger.warning("pipe %s: receive failed: %s", self.spec.logical_id, error)
                time.sleep(self._poll_seconds)
                continue
            if messages:
                self._deliver(sqs, sfn, messages)
            elif self._poll_seconds < 1:
                self._stopping.wait(self._poll_seconds)  # short polling (tests): pause between polls

    def _receive_batch(self, sqs: Any) -> list[dict[str, Any]]:
        """Long-poll for a first message, then top the batch up until BatchSize or the window ends."""
        batch: list[dict[str, Any]] = []
        window_ends = time.monotonic() + self.spec.batching_window_seconds
        while len(batch) < self.spec.batch_size and not self._stopping.is_set():
            response = sqs.receive_message(
                QueueUrl=self.spec.source_queue_url,
                MaxNumberOfMessages=min(_SQS_RECEIVE_MAX, self.spec.batch_size - len(batch)),
                WaitTimeSeconds=0 if batch else int(self._poll_seconds),
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
            )
            received = response.get("Messages", [])
            batch.extend(received)
            if not received or time.monotonic() >= window_ends:
                break
        return batch

    def _deliver(self, sqs: Any, sfn: Any, messages: list[dict[str, Any]]) -> None:
        self.stats.batches_received += 1
        execution_input = json.dumps([self._target_input(message) for message in messages])
        execution_name = hashlib.sha256("".join(m["MessageId"] for m in messages).encode()).hexdigest()[:40]
        try:
            sfn.start_execution(stateMachineArn=self.spec.target_arn, name=execution_name, input=execution_input)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "ExecutionAlreadyExists":
                self._record_failure(error)
                return
        except BotoCoreError as error:
            self._record_failure(error)
            return
        self.stats.executions_started += 1
        entries = [{"Id": str(index), "ReceiptHandle": m["ReceiptHandle"]} for index, m in enumerate(messages)]
        # If a delete fails, the message comes back; redelivered in the same batch it gets the same
        # execution name, so StartExecution does not start it twice.
        try:
            response = sqs.delete_message_batch(QueueUrl=self.spec.source_queue_url, Entries=entries)
        except (BotoCoreError, ClientError) as error:
            logger.warning("pipe %s: delete after StartExecution failed: %s", self.spec.logical_id, error)
            return
        for failed in response.get("Failed", []):
            message = messages[int(failed["Id"])]
            logger.warning("pipe %s: message %s not deleted after StartExecution (%s: %s); it will be redelivered",
                           self.spec.logical_id, message["MessageId"], failed.get("Code"),
                           failed.get("Message"))  # fmt: skip

    def _record_failure(self, error: Exception) -> None:
        # Nothing is deleted: the messages come back after the visibility timeout.
        self.stats.start_failures += 1
        self.stats.last_error = str(error)
        logger.warning("pipe %s: StartExecution failed, messages will be redelivered: %s", self.spec.logical_id, error)

    def _target_input(self, message: dict[str, Any]) -> Any:
        record = sqs_record(message, queue_arn=self._queue_arn, region=self._region)
        if self.spec.input_template is None:
            return record
        reserved = {
            "aws.pipes.pipe-arn": self._pipe_arn,
            "aws.pipes.pipe-name": self.spec.name,
            "aws.pipes.source-arn": self.spec.source_arn,
            "aws.pipes.target-arn": self.spec.target_arn,
            "aws.pipes.event.ingestion-time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "aws.pipes.event": json.dumps(record),
            "aws.pipes.event.json": record,
        }
        return render_input_template(self.spec.input_template, record, reserved)
