"""Execution events to the state machine's CloudWatch Logs group, as its ``loggingConfiguration`` says.

moto's interpreter has the hook (a logging session per execution, fed every history event) but
moto never opens a session, and its session writes events in a shape its own Logs backend
rejects. :func:`logging_session_for` opens one for an execution whose state machine logs
(``level`` ALL, ERROR or FATAL, one ``cloudWatchLogsLogGroup`` destination); each event that level
selects becomes one log event, in the JSON Step Functions writes::

    {"id": "1", "type": "ExecutionStarted", "details": {...}, "previous_event_id": "0",
     "event_timestamp": "1767268800123", "execution_arn": "arn:aws:states:..."}

``details`` carries input and output only with ``includeExecutionData``. Each execution logs to its
own stream, ``states/<state machine name>/<YYYY-MM-DD-HH-MM>/<execution name>``. As on AWS, the
log group must exist (the template's ``AWS::Logs::LogGroup``); events for a missing one are dropped.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from typing import Any

from sam_emulator.logs.log_groups import LogStreamWriter

logger = logging.getLogger("sam_emulator")


def logging_session_for(execution: Any) -> Any:
    """A moto logging session that writes ``execution``'s events to its log group, or None."""
    from moto.stepfunctions.parser.asl.eval.event.logging import (
        CloudWatchLoggingConfiguration,
        CloudWatchLoggingSession,
    )

    config = getattr(execution.state_machine, "loggingConfiguration", None) or {}
    if config.get("level", "OFF") == "OFF":
        return None
    configuration = CloudWatchLoggingConfiguration.from_logging_configuration(
        state_machine_arn=execution.state_machine.arn,
        logging_configuration={"includeExecutionData": False, **config},
    )
    if configuration is None:
        return None

    class ExecutionLogSession(CloudWatchLoggingSession):
        def __init__(self) -> None:  # moto's binds its Logs backend, which this session does not use
            self.execution_arn = execution.exec_arn
            self.configuration = configuration
            started = execution.start_date or dt.datetime.now(dt.UTC)
            stream = f"states/{execution.state_machine.name}/{started:%Y-%m-%d-%H-%M}/{execution.name}"
            self._writer = LogStreamWriter(
                configuration.log_account_id,
                configuration.log_region,
                configuration.log_group_name,
                stream,
                create_group=False,
            )

        def publish_history_log(self, history_log: Any) -> None:
            try:
                millis = _epoch_millis(history_log["event_timestamp"])
                record = {
                    "id": str(history_log["id"]),
                    "type": str(getattr(history_log["type"], "value", history_log["type"])),
                    "details": history_log.get("details") or {},
                    "previous_event_id": str(history_log["previous_event_id"]),
                    "event_timestamp": str(millis),
                    "execution_arn": history_log["execution_arn"],
                }
                self._writer.put([json.dumps(record, default=str)], millis)
            except Exception:  # noqa: BLE001 - logging must never fail an execution
                logger.debug("could not log an event of %s", self.execution_arn, exc_info=True)

    return ExecutionLogSession()


def _epoch_millis(timestamp: Any) -> int:
    """A history event's time (a datetime, or its ISO text) as epoch milliseconds."""
    if isinstance(timestamp, str):
        timestamp = dt.datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    if isinstance(timestamp, dt.datetime):
        if timestamp.tzinfo is None:
            timestamp = timestamp.replace(tzinfo=dt.UTC)
        return int(timestamp.timestamp() * 1000)
    return int(timestamp)
