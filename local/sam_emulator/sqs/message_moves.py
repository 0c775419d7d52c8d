"""SQS message move tasks (the DLQ redrive) over moto's queues, as the SQS API reference has them.

moto has no StartMessageMoveTask, ListMessageMoveTasks or CancelMessageMoveTask; the
``*-message-move-task(s)`` patches in :mod:`sam_emulator.stepfunctions.patches` route them here.

- **StartMessageMoveTask** moves the messages of a dead-letter queue (a queue that some queue's
  ``RedrivePolicy`` names) to ``DestinationArn``, or, without one, each message back to the queue
  it was first sent to (its original source). ``MaxNumberOfMessagesPerSecond`` (1 to 500) limits
  the rate; without it messages move in batches of 10 as fast as they can. A moved message is a
  new message in the destination (attributes kept, receive count 0) and is deleted from the DLQ.
  The task counts the visible messages at its start (``ApproximateNumberOfMessagesToMove``) and
  moves at most that many; one task at a time runs per source queue.
- **ListMessageMoveTasks** lists a queue's most recent tasks (``MaxResults``, default 1, at most
  10), newest first; only a RUNNING task shows its ``TaskHandle``.
- **CancelMessageMoveTask** stops a RUNNING task (messages already moved stay moved) and answers
  how many were moved; the task ends CANCELLED.
- A destination deleted while the task runs ends it FAILED with ``FailureReason``
  ``AWS.SimpleQueueService.NonExistentQueue``.

Errors are AWS's (codes and messages as SQS answers them): ``ResourceNotFoundException`` (404)
for a source, destination or task that does not exist, ``InvalidParameterValue`` (400) for a
source that is no dead-letter queue, a second running task, a bad rate or a malformed handle,
``UnsupportedOperation`` (400) to cancel a task that is not running.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

logger = logging.getLogger("sam_emulator")

_ORIGIN = "_sam_emulator_origin_arn"
TASKS_LISTED_AT_MOST = 10
RATE_LIMITS = (1, 500)
_BATCH = 10
_VISIBILITY_WHILE_MOVING = 30
NON_EXISTENT_QUEUE = "AWS.SimpleQueueService.NonExistentQueue"


def remember_origin(message: Any, queue_arn: str) -> None:
    """Record the first queue a message entered (moto moves the same object to the DLQ)."""
    if getattr(message, _ORIGIN, None) is None:
        setattr(message, _ORIGIN, queue_arn)


def origin_of(message: Any) -> str | None:
    return getattr(message, _ORIGIN, None)


class MessageMoveError(Exception):
    """An error SQS answers: ``code`` and message as AWS words them."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.status = 404 if code == "ResourceNotFoundException" else 400


def _not_found(parameter: str) -> MessageMoveError:
    return MessageMoveError(
        "ResourceNotFoundException", f"The resource that you specified for the {parameter} parameter doesn't exist."
    )


@dataclass
class MoveTask:
    source_arn: str
    destination_arn: str | None
    rate: int | None
    to_move: int
    task_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    started_ms: int = field(default_factory=lambda: int(time.time() * 1000))
    moved: int = 0
    status: str = "RUNNING"
    failure_reason: str | None = None
    cancelled: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None

    @property
    def handle(self) -> str:
        return encode_handle(self.task_id, self.source_arn)

    def entry(self) -> dict[str, Any]:
        """The task as ListMessageMoveTasks shows it."""
        entry: dict[str, Any] = {
            "Status": self.status,
            "SourceArn": self.source_arn,
            "ApproximateNumberOfMessagesMoved": self.moved,
            "ApproximateNumberOfMessagesToMove": self.to_move,
            "StartedTimestamp": self.started_ms,
        }
        if self.status == "RUNNING":
            entry["TaskHandle"] = self.handle
        if self.destination_arn:
            entry["DestinationArn"] = self.destination_arn
        if self.rate is not None:
            entry["MaxNumberOfMessagesPerSecond"] = self.rate
        if self.failure_reason:
            entry["FailureReason"] = self.failure_reason
        return entry


def encode_handle(task_id: str, source_arn: str) -> str:
    return base64.b64encode(json.dumps({"taskId": task_id, "sourceArn": source_arn}).encode()).decode()


def decode_handle(handle: str) -> tuple[str, str]:
    try:
        fields = json.loads(base64.b64decode(handle.encode(), validate=True))
        return str(fields["taskId"]), str(fields["sourceArn"])
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise MessageMoveError("InvalidParameterValue", "Value for parameter TaskHandle is invalid.") from None


def _queue(arn: str | None) -> tuple[Any, Any] | None:
    """``(backend, queue)`` for a queue ARN, or None when there is no such queue."""
    from moto.sqs.models import sqs_backends

    parts = (arn or "").split(":")
    if len(parts) != 6 or parts[0] != "arn" or parts[2] != "sqs":
        return None
    _, _, _, region, account, name = parts
    try:
        backend = sqs_backends[account][region]
    except KeyError:
        return None
    queue = backend.queues.get(name)
    return (backend, queue) if queue is not None else None


class MessageMoveTasks:
    """The message move tasks of one running endpoint."""

    def __init__(self) -> None:
        self._tasks: dict[str, list[MoveTask]] = {}  # source ARN -> its tasks, oldest first
        self._lock = threading.Lock()

    # --- the API ------------------------------------------------------------------------

    def start(self, source_arn: str, destination_arn: str | None = None, rate: int | None = None) -> str:
        found = _queue(source_arn)
        if found is None:
            raise _not_found("SourceArn")
        backend, source = found
        if destination_arn and _queue(destination_arn) is None:
            raise _not_found("DestinationArn")
        if not self._source_queues(backend, source):
            raise MessageMoveError("InvalidParameterValue", "Source queue must be configured as a Dead Letter Queue.")
        if rate is not None and not RATE_LIMITS[0] <= rate <= RATE_LIMITS[1]:
            raise MessageMoveError(
                "InvalidParameterValue",
                f"Value {rate} for parameter MaxNumberOfMessagesPerSecond is invalid. "
                f"Reason: must be between {RATE_LIMITS[0]} and {RATE_LIMITS[1]}.",
            )
        with self._lock:
            tasks = self._tasks.setdefault(source_arn, [])
            if any(task.status == "RUNNING" for task in tasks):
                raise MessageMoveError(
                    "InvalidParameterValue",
                    "There is already a task running. Only one active task is allowed for a source queue arn at a "
                    "given time.",
                )
            task = MoveTask(source_arn, destination_arn, rate, to_move=source.approximate_number_of_messages)
            tasks.append(task)
        task.thread = threading.Thread(target=self._run, args=(task,), name=f"message-move:{source.name}", daemon=True)
        task.thread.start()
        return task.handle

    def list(self, source_arn: str, max_results: int | None = None) -> list[dict[str, Any]]:
        if _queue(source_arn) is None:
            raise _not_found("SourceArn")
        count = 1 if max_results is None else max_results
        if not 1 <= count <= TASKS_LISTED_AT_MOST:
            raise MessageMoveError(
                "InvalidParameterValue",
                f"Value {count} for parameter MaxResults is invalid. Reason: must be between 1 and 10.",
            )
        with self._lock:
            tasks = list(reversed(self._tasks.get(source_arn, [])))
        return [task.entry() for task in tasks[:count]]

    def cancel(self, handle: str) -> int:
        task_id, source_arn = decode_handle(handle)
        if _queue(source_arn) is None:
            raise _not_found("SourceArn")
        with self._lock:
            task = next((t for t in self._tasks.get(source_arn, []) if t.task_id == task_id), None)
        if task is None:
            raise MessageMoveError("ResourceNotFoundException", "Task does not exist.")
        if task.status != "RUNNING":
            raise MessageMoveError("UnsupportedOperation", f"Task is {task.status} and cannot be cancelled.")
        task.status = "CANCELLING"
        task.cancelled.set()
        return task.moved

    def cancel_all(self) -> None:
        """Stop every running task (the endpoint is stopping)."""
        with self._lock:
            tasks = [task for tasks in self._tasks.values() for task in tasks]
            self._tasks.clear()
        for task in tasks:
            task.cancelled.set()
        for task in tasks:
            if task.thread is not None:
                task.thread.join(timeout=5)

    # --- the mover ----------------------------------------------------------------------

    @staticmethod
    def _source_queues(backend: Any, dlq: Any) -> list[Any]:
        return list(backend.list_dead_letter_source_queues(dlq.name))

    def _run(self, task: MoveTask) -> None:
        try:
            self._move(task)
        except Exception as error:  # noqa: BLE001 - a task fails; the endpoint goes on
            logger.exception("message move task from %s failed", task.source_arn)
            task.status, task.failure_reason = "FAILED", getattr(error, "code", None) or type(error).__name__
            return
        if task.status in ("RUNNING", "CANCELLING"):
            task.status = "CANCELLED" if task.cancelled.is_set() else "COMPLETED"

    def _move(self, task: MoveTask) -> None:
        from moto.sqs.exceptions import QueueDoesNotExist

        interval = 1.0 / task.rate if task.rate else 0.0
        batch = 1 if task.rate else _BATCH
        while task.moved < task.to_move and not task.cancelled.is_set():
            found = _queue(task.source_arn)
            if found is None:
                self._fail(task, NON_EXISTENT_QUEUE)
                return
            backend, dlq = found
            messages = backend.receive_message(
                dlq.name,
                count=min(batch, task.to_move - task.moved),
                wait_seconds_timeout=0,
                visibility_timeout=_VISIBILITY_WHILE_MOVING,
                message_attribute_names=["All"],
            )
            if not messages:
                return  # the rest were deleted, or are in flight with a consumer
            for index, message in enumerate(messages):
                if task.cancelled.is_set():
                    self._release(backend, dlq, messages[index:])
                    return
                destination = task.destination_arn or self._original_source(backend, dlq, message)
                target = _queue(destination)
                if target is None:
                    self._release(backend, dlq, messages[index:])
                    self._fail(task, NON_EXISTENT_QUEUE)
                    return
                try:
                    target[0].send_message(
                        target[1].name,
                        message.body,
                        message_attributes=message.message_attributes,
                        deduplication_id=message.deduplication_id,
                        group_id=message.group_id,
                    )
                except QueueDoesNotExist:
                    self._release(backend, dlq, messages[index:])
                    self._fail(task, NON_EXISTENT_QUEUE)
                    return
                backend.delete_message(dlq.name, message.receipt_handle)
                task.moved += 1
                if interval:
                    task.cancelled.wait(interval)

    def _original_source(self, backend: Any, dlq: Any, message: Any) -> str | None:
        origin = origin_of(message)
        if origin and origin != dlq.queue_arn:
            return origin
        sources = self._source_queues(backend, dlq)  # sent to the DLQ directly: its one source, if one
        return sources[0].queue_arn if len(sources) == 1 else None

    @staticmethod
    def _release(backend: Any, dlq: Any, messages: list[Any]) -> None:
        for message in messages:
            try:
                backend.change_message_visibility(dlq.name, message.receipt_handle, visibility_timeout=0)
            except Exception as error:  # noqa: BLE001 - deleted meanwhile: nothing to release
                logger.debug("message move: could not release %s: %s", message.id, error)

    @staticmethod
    def _fail(task: MoveTask, reason: str) -> None:
        task.status, task.failure_reason = "FAILED", reason
