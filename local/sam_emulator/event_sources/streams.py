"""DynamoDB Streams to Lambda: SAM ``Events`` of ``Type: DynamoDB`` (Lambda event source mappings).

moto keeps a table's stream records (the ``dynamodbstreams`` API serves them) but runs no event
source mapping, so each ``DynamoDB`` event gets a poller thread that behaves like Lambda's:

* reads the stream through the local endpoint (DescribeStream, GetShardIterator, GetRecords),
  each shard in order, and follows new shards (read from their start once their parent is done);
* ``StartingPosition: LATEST`` takes the shard iterators when the runtime starts, before the API
  serves requests, so only records written afterwards are delivered; ``TRIM_HORIZON`` reads from
  the oldest record;
* gives each record the Lambda event shape (``eventVersion`` 1.1, ``eventSourceARN`` the stream
  ARN, ``ApproximateCreationDateTime`` in epoch seconds, binary values base64 as in Lambda's JSON);
* applies ``FilterCriteria`` (a record passes if any filter's pattern matches it, with
  :func:`sam_emulator.event_sources.rules.matches`); records that match no filter are dropped, as on AWS;
* invokes the function synchronously with batches of up to ``BatchSize`` records, in order;
* on a function error retries the batch ``MaximumRetryAttempts`` times (the AWS default, -1,
  "until the record expires", is capped at :data:`LOCAL_RETRY_CAP` retries), after
  :data:`RETRY_DELAY_SECONDS` times the runtime's wait scale; ``BisectBatchOnFunctionError``
  splits a failing batch in two first (splitting uses no retry). ``FunctionResponseTypes:
  [ReportBatchItemFailures]`` is honoured: records before the lowest failed sequence number count
  as processed and only the rest is retried;
* a batch that still fails is sent to the ``OnFailure`` SQS queue as the invocation record Lambda
  sends (``requestContext``, ``responseContext``, ``DDBStreamBatchInfo``), or dropped with a
  warning without one; then the mapping carries on with the next records.

Not emulated (noted at start-up when set): ``ParallelizationFactor`` (one batch at a time per
mapping), ``TumblingWindowInSeconds``, ``MaximumRecordAgeInSeconds`` (records never expire
locally), ``MaximumBatchingWindowInSeconds`` (a batch is what one poll finds), SNS and S3
``OnFailure`` destinations, ``KmsKeyArn``, ``MetricsConfig``. The mappings are not created in
moto's Lambda (``list-event-source-mappings`` does not show them): moto would invoke the
function itself on every write and empty the stream.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from sam_emulator.awslambda.functions import InvocationResult
from sam_emulator.errors import TemplateError
from sam_emulator.event_sources.pollers import BackgroundPoller
from sam_emulator.event_sources.rules import matches, unsupported_operators
from sam_emulator.state.directory import atomic_write, file_name

logger = logging.getLogger("sam_emulator")

DEFAULT_BATCH_SIZE = 100
#: ``MaximumRetryAttempts: -1`` (AWS: retry until the record expires, 24 h) retries this often locally.
LOCAL_RETRY_CAP = 10
#: Pause before a retry, multiplied by the runtime's wait scale (tests: 10 ms).
RETRY_DELAY_SECONDS = 1.0
#: GetRecords returns at most this many records per call.
GET_RECORDS_LIMIT = 1000
INVOKE_SOURCE = "dynamodb stream"

#: Properties that change delivery on AWS but not locally, with what happens instead.
_NOT_EMULATED = {
    "ParallelizationFactor": "one batch at a time per mapping",
    "TumblingWindowInSeconds": "no tumbling windows or state",
    "MaximumRecordAgeInSeconds": "records never expire locally",
    "MaximumBatchingWindowInSeconds": "a batch is what one poll finds",
    "StartingPositionTimestamp": "not a DynamoDB option",
    "KmsKeyArn": "filter criteria are not encrypted",
    "MetricsConfig": "no metrics",
}
#: Values that mean "off", so a template that spells the default out gets no note.
_DEFAULTS = {"ParallelizationFactor": 1, "MaximumRecordAgeInSeconds": -1, "MaximumBatchingWindowInSeconds": 0}


@dataclass
class StreamMappingSpec:
    """One ``DynamoDB`` event of a function, resolved (SAM's ``AWS::Lambda::EventSourceMapping``)."""

    logical_id: str  # <FunctionLogicalId><EventName>, as SAM names the mapping
    function_logical_id: str
    table_logical_id: str
    stream_arn: str
    starting_position: str = "LATEST"
    batch_size: int = DEFAULT_BATCH_SIZE
    max_retries: int = -1  # -1: until the record expires (capped locally)
    bisect_on_error: bool = False
    filters: list[Any] = field(default_factory=list)  # parsed patterns; empty: every record
    on_failure_arn: str | None = None
    report_batch_item_failures: bool = False
    enabled: bool = True
    notes: list[str] = field(default_factory=list)

    @classmethod
    def from_properties(
        cls, function_id: str, event_name: str, props: dict[str, Any], *, table_logical_id: str
    ) -> StreamMappingSpec:
        logical_id = f"{function_id}{event_name}"
        position = str(props.get("StartingPosition", "LATEST")).upper()
        if position not in ("LATEST", "TRIM_HORIZON"):
            raise TemplateError(f"{logical_id}: StartingPosition {position} is not valid for a DynamoDB stream")
        on_failure = ((props.get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination")
        spec = cls(
            logical_id=logical_id,
            function_logical_id=function_id,
            table_logical_id=table_logical_id,
            stream_arn=props["Stream"],
            starting_position=position,
            batch_size=int(props.get("BatchSize", DEFAULT_BATCH_SIZE)),
            max_retries=int(props.get("MaximumRetryAttempts", -1)),
            bisect_on_error=_flag(props.get("BisectBatchOnFunctionError", False)),
            filters=_filter_patterns(logical_id, props.get("FilterCriteria")),
            on_failure_arn=on_failure,
            report_batch_item_failures="ReportBatchItemFailures" in (props.get("FunctionResponseTypes") or []),
            enabled=_flag(props.get("Enabled", True)),
        )
        spec.notes.extend(spec._notes(props))
        return spec

    @property
    def retry_limit(self) -> int:
        return LOCAL_RETRY_CAP if self.max_retries < 0 else self.max_retries

    def _notes(self, props: dict[str, Any]) -> list[str]:
        notes = []
        for key, instead in _NOT_EMULATED.items():
            if key in props and props[key] != _DEFAULTS.get(key, object()):
                notes.append(f"{self.logical_id}: {key} is not emulated locally ({instead})")
        if self.max_retries < 0:
            notes.append(
                f"{self.logical_id}: MaximumRetryAttempts -1 (retry until the record expires) retries "
                f"{LOCAL_RETRY_CAP} times locally"
            )
        if self.on_failure_arn and ":sqs:" not in self.on_failure_arn:
            notes.append(f"{self.logical_id}: OnFailure {self.on_failure_arn} is not delivered locally (SQS is)")
        for pattern in self.filters:
            unsupported = unsupported_operators(pattern)
            if unsupported:
                notes.append(
                    f"{self.logical_id}: filter operators {sorted(unsupported)} are not emulated (never match)"
                )
        if not self.enabled:
            notes.append(f"{self.logical_id}: Enabled is false; not polled")
        return notes


def _flag(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() == "true")


def _filter_patterns(logical_id: str, criteria: Any) -> list[Any]:
    patterns = []
    for item in (criteria or {}).get("Filters") or []:
        pattern = item.get("Pattern")
        if isinstance(pattern, str):
            try:
                pattern = json.loads(pattern)
            except ValueError as error:
                raise TemplateError(f"{logical_id}: FilterCriteria pattern is not JSON: {error}") from None
        if not isinstance(pattern, dict):
            raise TemplateError(f"{logical_id}: FilterCriteria pattern must be a JSON object")
        patterns.append(pattern)
    return patterns


# --- records ----------------------------------------------------------------------------------


def lambda_record(record: dict[str, Any], *, stream_arn: str, region: str) -> dict[str, Any]:
    """A GetRecords record (as boto3 parses it) in the shape Lambda passes to the function."""
    return {
        "eventID": record["eventID"],
        "eventName": record["eventName"],
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": region,
        "dynamodb": _as_json(record["dynamodb"]),
        "eventSourceARN": stream_arn,
    }


def _as_json(value: Any) -> Any:
    """Datetimes to epoch seconds (rounded down, as the stream reports them), binary to base64."""
    if isinstance(value, dict):
        return {key: _as_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_as_json(item) for item in value]
    if isinstance(value, dt.datetime):
        return int(value.timestamp())
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode()
    return value


def _iso_seconds(epoch: Any) -> str | None:
    if not isinstance(epoch, int | float):
        return None
    return dt.datetime.fromtimestamp(epoch, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def failure_record(
    batch: list[dict[str, Any]],
    *,
    shard_id: str,
    stream_arn: str,
    function_arn: str,
    result: InvocationResult,
    invoke_count: int,
    condition: str = "RetryAttemptsExhausted",
) -> dict[str, Any]:
    """What Lambda sends to a stream mapping's ``OnFailure`` destination: where the records are, not
    the records (AWS's "Retaining records from a DynamoDB event source")."""
    response_context: dict[str, Any] = {"statusCode": 200, "executedVersion": "$LATEST"}
    if result.is_function_error:
        response_context["functionError"] = "Unhandled"
    first, last = batch[0]["dynamodb"], batch[-1]["dynamodb"]
    return {
        "requestContext": {
            "requestId": result.request_id,
            "functionArn": function_arn,
            "condition": condition,
            "approximateInvokeCount": invoke_count,
        },
        "responseContext": response_context,
        "version": "1.0",
        "timestamp": dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "DDBStreamBatchInfo": {
            "shardId": shard_id,
            "startSequenceNumber": first["SequenceNumber"],
            "endSequenceNumber": last["SequenceNumber"],
            "approximateArrivalOfFirstRecord": _iso_seconds(first.get("ApproximateCreationDateTime")),
            "approximateArrivalOfLastRecord": _iso_seconds(last.get("ApproximateCreationDateTime")),
            "batchSize": len(batch),
            "streamArn": stream_arn,
        },
    }


# --- the poller -------------------------------------------------------------------------------


class StreamFunction(Protocol):
    """What the poller needs of a :class:`~sam_emulator.awslambda.functions.LocalFunction`."""

    @property
    def spec(self) -> Any: ...

    def invoke(self, event: Any, *, source: str = ...) -> InvocationResult: ...


@dataclass
class StreamStats:
    records_read: int = 0
    records_filtered_out: int = 0
    invocations: int = 0
    function_errors: int = 0
    records_delivered: int = 0  # in batches that succeeded
    batches_to_destination: int = 0
    batches_dropped: int = 0  # failed for good, no destination
    last_error: str | None = None


@dataclass
class _Shard:
    shard_id: str
    parent_id: str | None
    iterator: str | None = None
    last_sequence: str | None = None
    closed: bool = False  # drained to its end; its children may start


class StreamCheckpoints:
    """Where each mapping is in each shard, kept in the state folder: the sequence number of the
    last record it is done with (delivered, filtered out, or given up on).

    With them a mapping carries on after a restart where it stopped (the state folder restores
    the stream's records with their sequence numbers): records are delivered at least once. A
    mapping with no checkpoint yet reads the restored stream from its oldest record."""

    def __init__(self, folder: Path, *, restored: bool, recording: Callable[[], bool] = lambda: True):
        self._folder = folder
        self.restored = restored
        self._recording = recording

    def _path(self, mapping: str, shard_id: str) -> Path:
        return self._folder / file_name(f"{mapping}/{shard_id}")

    def last(self, mapping: str, shard_id: str) -> str | None:
        path = self._path(mapping, shard_id)
        return path.read_text() if path.exists() else None

    def save(self, mapping: str, shard_id: str, sequence_number: str) -> None:
        if self._recording():
            atomic_write(self._path(mapping, shard_id), sequence_number.encode())


class DynamoDBStreamPoller(BackgroundPoller):
    """Delivers one table stream's records to one function, in its own thread."""

    def __init__(
        self,
        spec: StreamMappingSpec,
        *,
        function: StreamFunction,
        client_factory: Callable[[str], Any],
        region: str,
        poll_seconds: float = 1.0,
        wait_scale: float = 1.0,
        checkpoints: StreamCheckpoints | None = None,
    ):
        self.spec = spec
        self.stats = StreamStats()
        self._checkpoints = checkpoints
        self._function = function
        self._client_factory = client_factory
        self._region = region
        self._poll_seconds = poll_seconds
        self._wait_scale = wait_scale
        self._shards: dict[str, _Shard] = {}
        super().__init__()

    # --- lifecycle ------------------------------------------------------------------------

    def start(self) -> None:
        """Take the shard iterators now (so LATEST means "after start-up"), then poll in a thread."""
        if not self.spec.enabled:
            return
        streams = self._client_factory("dynamodbstreams")
        self._discover_shards(streams, initial=True)
        self._start_thread(f"stream:{self.spec.logical_id}")

    def _run(self) -> None:
        streams = self._client_factory("dynamodbstreams")
        while not self._stopping.is_set():
            read = 0
            try:
                read = self.poll_once(streams)
            except (BotoCoreError, ClientError) as error:
                self._note_error(f"reading {self.spec.stream_arn} failed: {error}")
            except Exception:  # noqa: BLE001 - a thread of its own: log, never vanish silently
                logger.exception("stream mapping %s: poll failed", self.spec.logical_id)
            if read < GET_RECORDS_LIMIT:  # a full page may have more behind it: read on at once
                self._stopping.wait(self._poll_seconds)

    def _note_error(self, message: str) -> None:
        if message != self.stats.last_error:  # once per distinct error, not once per poll
            logger.warning("stream mapping %s: %s", self.spec.logical_id, message)
        self.stats.last_error = message

    # --- reading --------------------------------------------------------------------------

    def _discover_shards(self, streams: Any, *, initial: bool = False) -> None:
        description = _describe_stream(streams, self.spec.stream_arn)
        for shard in description["Shards"]:
            shard_id = shard["ShardId"]
            if shard_id in self._shards:
                continue
            is_open = "EndingSequenceNumber" not in shard.get("SequenceNumberRange", {})
            state = _Shard(shard_id, shard.get("ParentShardId"))
            self._shards[shard_id] = state
            checkpoint = self._checkpoints.last(self.spec.logical_id, shard_id) if self._checkpoints else None
            if checkpoint is not None:
                state.last_sequence = checkpoint
                state.iterator = self._iterator_after(streams, state)
                continue
            restored = self._checkpoints is not None and self._checkpoints.restored
            if initial and self.spec.starting_position == "LATEST" and not restored:
                if not is_open:
                    state.closed = True  # older than start-up: nothing to deliver
                    continue
                iterator_type = "LATEST"
            else:
                # TRIM_HORIZON, a shard that appeared since start-up, or a restored stream.
                iterator_type = "TRIM_HORIZON"
            state.iterator = streams.get_shard_iterator(
                StreamArn=self.spec.stream_arn, ShardId=shard_id, ShardIteratorType=iterator_type
            )["ShardIterator"]

    def poll_once(self, streams: Any) -> int:
        """Read every readable shard once and deliver what it holds; returns the records read."""
        self._discover_shards(streams)
        read = 0
        for shard in list(self._shards.values()):
            if self._stopping.is_set():
                break
            if shard.closed or shard.iterator is None:
                continue
            parent = self._shards.get(shard.parent_id or "")
            if parent is not None and not parent.closed:
                continue  # a child shard waits for its parent, so records stay in order per key
            records = self._read(streams, shard)
            read += len(records)
            if records:
                self._deliver_records(shard, records)
        return read

    def _read(self, streams: Any, shard: _Shard) -> list[dict[str, Any]]:
        try:
            response = streams.get_records(ShardIterator=shard.iterator, Limit=GET_RECORDS_LIMIT)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") not in ("ExpiredIteratorException",
                                                                    "TrimmedDataAccessException"):  # fmt: skip
                raise
            shard.iterator = self._iterator_after(streams, shard)
            return []
        records = response.get("Records", [])
        shard.iterator = response.get("NextShardIterator")
        if shard.iterator is None:
            shard.closed = True
        if records:
            shard.last_sequence = records[-1]["dynamodb"]["SequenceNumber"]
        return records

    def _iterator_after(self, streams: Any, shard: _Shard) -> str:
        request: dict[str, Any] = {"StreamArn": self.spec.stream_arn, "ShardId": shard.shard_id}
        if shard.last_sequence is None:
            request["ShardIteratorType"] = "TRIM_HORIZON"
        else:
            request.update(ShardIteratorType="AFTER_SEQUENCE_NUMBER", SequenceNumber=shard.last_sequence)
        return streams.get_shard_iterator(**request)["ShardIterator"]

    # --- delivering -----------------------------------------------------------------------

    def _deliver_records(self, shard: _Shard, records: list[dict[str, Any]]) -> None:
        self.stats.records_read += len(records)
        events = [lambda_record(r, stream_arn=self.spec.stream_arn, region=self._region) for r in records]
        if self.spec.filters:
            kept = [event for event in events if any(matches(p, event) for p in self.spec.filters)]
            self.stats.records_filtered_out += len(events) - len(kept)
            events = kept
        size = max(1, self.spec.batch_size)
        for start in range(0, len(events), size):
            if self._stopping.is_set():
                logger.warning("stream mapping %s: runtime stopping; %d records not delivered",
                               self.spec.logical_id, len(events) - start)  # fmt: skip
                return
            batch = events[start : start + size]
            self.process_batch(shard.shard_id, batch)
            if not self._stopping.is_set():
                self._checkpoint(shard, batch[-1]["dynamodb"]["SequenceNumber"])
        self._checkpoint(shard, records[-1]["dynamodb"]["SequenceNumber"])  # the filtered-out ones too

    def _checkpoint(self, shard: _Shard, sequence_number: str) -> None:
        if self._checkpoints is not None and not self._stopping.is_set():
            self._checkpoints.save(self.spec.logical_id, shard.shard_id, sequence_number)

    def process_batch(self, shard_id: str, batch: list[dict[str, Any]], *, retries_used: int = 0) -> None:
        """Invoke with ``batch`` until it succeeds, bisecting and retrying as configured; a batch that
        keeps failing goes to the OnFailure destination."""
        invoke_count = 0
        while True:
            result = self._invoke(batch, retries_used)
            invoke_count += 1
            failed_from = self._first_failure(batch, result)
            if failed_from is None:
                self.stats.records_delivered += len(batch)
                return
            if failed_from > 0:
                # ReportBatchItemFailures: the records before the first failure are done.
                self.stats.records_delivered += failed_from
                batch = batch[failed_from:]
            elif self.spec.bisect_on_error and len(batch) > 1:
                half = (len(batch) + 1) // 2  # splitting does not count as a retry
                self.process_batch(shard_id, batch[:half], retries_used=retries_used)
                self.process_batch(shard_id, batch[half:], retries_used=retries_used)
                return
            if retries_used >= self.spec.retry_limit:
                self._give_up(shard_id, batch, result, invoke_count)
                return
            retries_used += 1
            if self._stopping.wait(RETRY_DELAY_SECONDS * self._wait_scale):
                logger.warning("stream mapping %s: runtime stopping; retry of %d records not made",
                               self.spec.logical_id, len(batch))  # fmt: skip
                return

    def _invoke(self, batch: list[dict[str, Any]], retries_used: int) -> InvocationResult:
        source = INVOKE_SOURCE if retries_used == 0 else f"{INVOKE_SOURCE}, retry {retries_used}"
        result = self._function.invoke({"Records": batch}, source=source)
        self.stats.invocations += 1
        if result.is_function_error:
            self.stats.function_errors += 1
        return result

    def _first_failure(self, batch: list[dict[str, Any]], result: InvocationResult) -> int | None:
        """None if the batch succeeded, else the index of the first record to retry."""
        if result.is_function_error:
            return 0
        if not self.spec.report_batch_item_failures:
            return None
        try:
            response = result.json()
        except ValueError:
            return 0
        failures = response.get("batchItemFailures") if isinstance(response, dict) else None
        if not failures:
            return None  # no list, null or empty: the whole batch succeeded
        positions = {record["dynamodb"]["SequenceNumber"]: index for index, record in enumerate(batch)}
        identifiers = [item.get("itemIdentifier") if isinstance(item, dict) else None for item in failures]
        if any(identifier not in positions for identifier in identifiers):
            return 0  # an unknown or empty identifier fails the whole batch, as on AWS
        return min(positions[identifier] for identifier in identifiers)

    def _give_up(self, shard_id: str, batch: list[dict[str, Any]], result: InvocationResult, invoke_count: int) -> None:
        record = failure_record(
            batch,
            shard_id=shard_id,
            stream_arn=self.spec.stream_arn,
            function_arn=self._function.spec.arn,
            result=result,
            invoke_count=invoke_count,
        )
        destination = self.spec.on_failure_arn
        if destination and ":sqs:" in destination:
            try:
                sqs = self._client_factory("sqs")
                queue_url = sqs.get_queue_url(QueueName=destination.rsplit(":", 1)[-1])["QueueUrl"]
                sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps(record))
            except (BotoCoreError, ClientError) as error:
                logger.warning("stream mapping %s: could not send %d records' batch info to %s: %s",
                               self.spec.logical_id, len(batch), destination, error)  # fmt: skip
                self.stats.batches_dropped += 1
                return
            self.stats.batches_to_destination += 1
            logger.warning("stream mapping %s: %d records sent to OnFailure %s after %d attempts",
                           self.spec.logical_id, len(batch), destination, invoke_count)  # fmt: skip
            return
        self.stats.batches_dropped += 1
        logger.warning("stream mapping %s: %d records dropped after %d attempts (no OnFailure destination "
                       "delivered locally): %s", self.spec.logical_id, len(batch), invoke_count,
                       json.dumps(record["DDBStreamBatchInfo"]))  # fmt: skip


def _describe_stream(streams: Any, stream_arn: str) -> dict[str, Any]:
    """DescribeStream with every page of shards."""
    request: dict[str, Any] = {"StreamArn": stream_arn}
    shards: list[dict[str, Any]] = []
    while True:
        description = streams.describe_stream(**request)["StreamDescription"]
        shards.extend(description.get("Shards", []))
        last = description.get("LastEvaluatedShardId")
        if not last:
            break
        request["ExclusiveStartShardId"] = last
    return {**description, "Shards": shards}
