"""SQS in the state folder: each queue's messages, with their receive counts and visibility.

After each acknowledged change to a queue's messages (send, receive, delete, visibility, purge)
the queue's messages are saved to ``sqs/<hash of the queue ARN>``, together with its dead-letter
queue's (a receive can move messages there). Visibility deadlines are wall-clock times, so a
message a consumer had received when the process died becomes visible again when its visibility
timeout ends, as SQS does. Queues made through the API (not by the template) are created again
from their CreateQueue request.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from sam_emulator.state.directory import RecordLog, StateDirectory, file_name, read_pickle, write_pickle
from sam_emulator.state.endpoint import EndpointRequest

logger = logging.getLogger("sam_emulator")

_MESSAGE_CHANGES = frozenset(
    {
        "SendMessage", "SendMessageBatch", "ReceiveMessage", "DeleteMessage", "DeleteMessageBatch",
        "ChangeMessageVisibility", "ChangeMessageVisibilityBatch", "PurgeQueue",
    }
)  # fmt: skip
_QUEUE_CHANGES = frozenset({"CreateQueue", "DeleteQueue"})


def _backend(account: str, region: str) -> Any:
    from moto.sqs.models import sqs_backends

    return sqs_backends[account][region]


class SQSRecorder:
    service = "sqs"

    def __init__(self, state: StateDirectory):
        self._root = state.folder("sqs")
        self._queue_requests = RecordLog(self._root / "queues")

    def is_write(self, request: EndpointRequest) -> bool:
        return request.operation in _MESSAGE_CHANGES or request.operation in _QUEUE_CHANGES

    def record(self, request: EndpointRequest) -> None:
        backend = _backend(request.account, request.region)
        if request.operation == "CreateQueue":
            parameters = {key: request.parameter(key) for key in ("QueueName", "Attributes", "tags")}
            self._queue_requests.append((request.account, request.region, "CreateQueue", parameters))
            return
        name = str(request.parameter("QueueUrl") or request.path).rstrip("/").rsplit("/", 1)[-1]
        if request.operation == "DeleteQueue":
            self._queue_requests.append((request.account, request.region, "DeleteQueue", {"QueueName": name}))
            (self._root / file_name(f"{request.account}:{request.region}:{name}")).unlink(missing_ok=True)
            return
        queue = backend.queues.get(name)
        if queue is not None:
            self.save_queue(request.account, request.region, queue)

    def save_queue(self, account: str, region: str, queue: Any) -> None:
        """Save one queue's messages, and its dead-letter queue's (call under the ``sqs`` lock)."""
        for saved in (queue, getattr(queue, "dead_letter_queue", None)):
            if saved is None:
                continue
            with saved._messages_lock:
                messages = list(saved._messages)
            path = self._root / file_name(f"{account}:{region}:{saved.name}")
            write_pickle(path, {"account": account, "region": region, "queue": saved.name, "messages": messages})

    def restore(self, replay_queue_request: Callable[[str, str, str, dict[str, Any]], None]) -> int:
        """Create the API-made queues again, then put every saved message back; the number of messages."""
        for account, region, operation, parameters in self._queue_requests:
            replay_queue_request(account, region, operation, parameters)
        restored = 0
        for path in self._root.iterdir():
            if path.name == "queues" or path.name.startswith("."):
                continue
            saved = read_pickle(path)
            queue = _backend(saved["account"], saved["region"]).queues.get(saved["queue"])
            if queue is None:
                logger.warning("state: queue %s is gone; its %d messages are not restored",
                               saved["queue"], len(saved["messages"]))  # fmt: skip
                continue
            with queue._messages_lock:
                queue._messages = list(saved["messages"])
                queue._pending_messages = {m for m in queue._messages if m.receipt_handle and not m.visible}
                queue._messages_lock.notify_all()
            restored += len(saved["messages"])
        return restored
