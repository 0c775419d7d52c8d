"""The runtime's durable state: what the endpoint holds, kept in a state folder across restarts.

:class:`DurableState` wires the per-service recorders to the endpoint, puts the saved state back
after the template's resources are provisioned (items, objects, messages, secrets, executions),
and resumes the executions a stop interrupted once everything runs again. See
:mod:`sam_emulator.state` for how writes are saved.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from sam_emulator.dynamodb.persistence import DynamoDBRecorder
from sam_emulator.s3.persistence import S3Recorder
from sam_emulator.secretsmanager.persistence import SecretsManagerRecorder
from sam_emulator.sqs.persistence import SQSRecorder
from sam_emulator.state.directory import StateDirectory
from sam_emulator.state.endpoint import DEFAULT_ACCOUNT_ID, SerializedEndpoint
from sam_emulator.stepfunctions.persistence import EndRun, ExecutionStore, FailRun, Restored
from sam_emulator.stepfunctions.redrive import ExecutionRedriver

logger = logging.getLogger("sam_emulator")

ClientFactory = Callable[..., Any]


@dataclass
class RestoreCounts:
    items: int = 0
    objects: int = 0
    messages: int = 0
    secrets: int = 0
    executions: int = 0
    running: int = 0

    def describe(self) -> str:
        return (
            f"{self.items} items, {self.objects} objects, {self.messages} messages, {self.secrets} secrets, "
            f"{self.executions} executions ({self.running} to resume)"
        )


class DurableState:
    """One runtime's state folder. Call in this order: :meth:`open`, :meth:`middleware` (the
    endpoint), :meth:`restore` (after provisioning), :meth:`resume` (once everything runs),
    :meth:`freeze` (first thing when stopping), :meth:`close`."""

    def __init__(self, path: str | Path, *, reset: bool = False):
        from moto import __version__ as moto_version

        self.directory = StateDirectory(path, engine_version=moto_version)
        self._reset = reset
        self.endpoint: SerializedEndpoint | None = None
        self.executions: ExecutionStore | None = None
        self.had_state = False
        self.counts = RestoreCounts()
        self.frozen = False
        self._to_resume: list[Restored] = []

    @property
    def path(self) -> Path:
        return self.directory.path

    def open(self) -> bool:
        self.had_state = self.directory.open(reset=self._reset)
        return self.had_state

    def middleware(self, endpoint_host: str) -> Callable[[Any], SerializedEndpoint]:
        def wrap(app: Any) -> SerializedEndpoint:
            self.endpoint = SerializedEndpoint(app)
            self.dynamodb = DynamoDBRecorder(self.directory)
            self.s3 = S3Recorder(self.directory, endpoint_host)
            self.sqs = SQSRecorder(self.directory)
            self.secrets = SecretsManagerRecorder(self.directory)
            for recorder in (self.dynamodb, self.s3, self.sqs, self.secrets):
                self.endpoint.add_recorder(recorder)
            return self.endpoint

        return wrap

    def restore(self, client_for: ClientFactory, redriver: ExecutionRedriver, region: str) -> RestoreCounts:
        """Put the saved state into the freshly provisioned endpoint, then start recording."""
        assert self.endpoint is not None, "middleware() first"
        self.executions = ExecutionStore(self.directory, redriver)
        counts = self.counts
        # Nothing else runs yet (no API, no poller, no execution): no lock is needed, and the
        # replayed API requests go through the endpoint's own locks.
        counts.items = self.dynamodb.restore(lambda *request: _replay(client_for, "dynamodb", *request))
        counts.objects = self.s3.restore(DEFAULT_ACCOUNT_ID)
        counts.messages = self.sqs.restore(lambda *request: _replay(client_for, "sqs", *request))
        counts.secrets = self.secrets.restore(DEFAULT_ACCOUNT_ID, region)
        self._to_resume = self.executions.restore()
        counts.executions = sum(1 for _ in self.directory.folder("stepfunctions").iterdir())
        counts.running = len(self._to_resume)
        self.endpoint.recording = True
        return counts

    def resume(self, patches: Any) -> int:
        """Run on the executions that were RUNNING when the last run stopped."""
        for restored in self._to_resume:
            execution, point = restored.execution, restored.point
            logger.info("resuming execution %s at %s", execution.name,
                        getattr(point, "state", type(point).__name__))  # fmt: skip
            if isinstance(point, EndRun):
                patches.finish_after_restart(execution, output=point.output)
            elif isinstance(point, FailRun):
                patches.finish_after_restart(execution, error="States.Runtime", cause=point.cause)
            else:
                patches.resume_after_restart(execution, point, restored.events)
        resumed, self._to_resume = len(self._to_resume), []
        return resumed

    # --- what the runtime reports -------------------------------------------------------------

    def execution_changed(self, execution: Any) -> None:
        if self.executions is not None and not self.frozen:
            self.executions.save(execution)

    def history_event(self, execution_arn: str, event: dict[str, Any]) -> None:
        if self.executions is not None and not self.frozen:
            self.executions.add_event(execution_arn, event)

    def freeze(self) -> None:
        """Stop saving: what the stop itself does (handlers killed, tasks failing) is not state."""
        self.frozen = True
        if self.endpoint is not None:
            self.endpoint.recording = False

    def close(self) -> None:
        self.freeze()
        self.directory.close()


def _replay(client_for: ClientFactory, service: str, account: str, region: str, operation: str, body: dict) -> None:
    """Create again a resource made through the API (its request was kept); one that exists stays."""
    del account  # the endpoint's clients use the default account
    client = client_for(service, region)
    method = {
        "CreateTable": "create_table",
        "DeleteTable": "delete_table",
        "CreateQueue": "create_queue",
        "DeleteQueue": "delete_queue",
    }[operation]
    parameters = {key: value for key, value in body.items() if value is not None}
    if operation == "DeleteQueue":
        try:
            parameters = {"QueueUrl": client.get_queue_url(QueueName=body["QueueName"])["QueueUrl"]}
        except ClientError:
            return
    try:
        getattr(client, method)(**parameters)
    except ClientError as error:
        logger.debug("state: %s %s: %s", operation, body.get("TableName") or body.get("QueueName"), error)
