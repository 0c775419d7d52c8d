"""DynamoDB in the state folder: every item, every stream record, and tables made through the API.

After each acknowledged write the recorder reads the touched items back from moto's backend and
appends them (or their deletion) to ``dynamodb/journal``; the stream records the write produced
go there too. At start-up :meth:`DynamoDBRecorder.restore` replays the journal into the tables
the template created, rebuilds each stream exactly (same shard, same sequence numbers, so a
stream poller can carry on after the last record it delivered), and compacts the journal.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from sam_emulator.state.directory import RecordLog, StateDirectory
from sam_emulator.state.endpoint import EndpointRequest

logger = logging.getLogger("sam_emulator")

_ITEM_WRITES = frozenset({"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"})
_TABLE_WRITES = frozenset({"CreateTable", "DeleteTable"})


def _backend(account: str, region: str) -> Any:
    from moto.dynamodb.models import dynamodb_backends

    return dynamodb_backends[account][region]


def _key_text(key: dict[str, Any]) -> str:
    return json.dumps(key, sort_keys=True)


class DynamoDBRecorder:
    service = "dynamodb"

    def __init__(self, state: StateDirectory):
        self._journal = RecordLog(state.folder("dynamodb") / "journal")
        #: Stream records already journaled, per (account, region, table).
        self._stream_counts: dict[tuple[str, str, str], int] = {}

    # --- recording --------------------------------------------------------------------------

    def is_write(self, request: EndpointRequest) -> bool:
        return request.operation in _ITEM_WRITES or request.operation in _TABLE_WRITES

    def record(self, request: EndpointRequest) -> None:
        backend = _backend(request.account, request.region)
        where = (request.account, request.region)
        if request.operation in _TABLE_WRITES:
            self._journal.append(("table", *where, request.operation, request.json()))
            return
        for table_name, key in _touched_keys(request.operation, request.json(), backend):
            table = backend.get_table(table_name)
            item = backend.get_item(table.name, key)
            attributes = item.to_json()["Attributes"] if item is not None else None
            self._journal.append(("item", *where, table.name, key, attributes))
            self._record_stream(where, table)

    def _record_stream(self, where: tuple[str, str], table: Any) -> None:
        shard = table.stream_shard
        if shard is None:
            return
        counted = (*where, table.name)
        done = self._stream_counts.get(counted, 0)
        for record in shard.items[done:]:
            self._journal.append(("stream", *where, table.name, record.record))
        self._stream_counts[counted] = len(shard.items)

    # --- restoring --------------------------------------------------------------------------

    def restore(self, replay_table_request: Callable[[str, str, str, dict[str, Any]], None]) -> int:
        """Put the journaled items and stream records back; returns the number of items."""
        items: dict[tuple[str, str, str], dict[str, dict[str, Any] | None]] = {}
        streams: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
        table_requests: list[tuple[str, str, str, dict[str, Any]]] = []
        for entry in self._journal:
            kind, account, region, *rest = entry
            if kind == "table":
                table_requests.append((account, region, rest[0], rest[1]))
                if rest[0] == "DeleteTable":
                    name = rest[1].get("TableName", "")
                    items.pop((account, region, name), None)
                    streams.pop((account, region, name), None)
            elif kind == "item":
                table_name, key, attributes = rest
                items.setdefault((account, region, table_name), {})[_key_text(key)] = attributes
            else:
                table_name, record = rest
                streams.setdefault((account, region, table_name), []).append(record)
        for account, region, operation, body in table_requests:
            replay_table_request(account, region, operation, body)
        restored = 0
        for (account, region, table_name), by_key in items.items():
            table = _backend(account, region).tables.get(table_name)
            if table is None:
                logger.warning("state: table %s is gone; its %d items are not restored", table_name, len(by_key))
                continue
            shard, table.stream_shard = table.stream_shard, None  # restoring writes no stream record
            try:
                for attributes in by_key.values():
                    if attributes is not None:
                        table.put_item(attributes)
                        restored += 1
            finally:
                table.stream_shard = shard
        self._restore_streams(streams)
        self._compact(items, streams, table_requests)
        return restored

    def _restore_streams(self, streams: dict[tuple[str, str, str], list[dict[str, Any]]]) -> None:
        from moto.dynamodb.models.table import StreamRecord

        for (account, region, table_name), records in streams.items():
            table = _backend(account, region).tables.get(table_name)
            if table is None or table.stream_shard is None:
                continue
            restored = []
            for record in records:
                stream_record = StreamRecord.__new__(StreamRecord)
                stream_record.record = record
                restored.append(stream_record)
            table.stream_shard.items = restored
            self._stream_counts[(account, region, table_name)] = len(restored)

    def _compact(
        self,
        items: dict[tuple[str, str, str], dict[str, dict[str, Any] | None]],
        streams: dict[tuple[str, str, str], list[dict[str, Any]]],
        table_requests: list[tuple[str, str, str, dict[str, Any]]],
    ) -> None:
        entries: list[Any] = [("table", *request) for request in table_requests]
        for (account, region, table_name), by_key in items.items():
            for key, attributes in by_key.items():
                if attributes is not None:
                    entries.append(("item", account, region, table_name, json.loads(key), attributes))
        for (account, region, table_name), records in streams.items():
            entries += [("stream", account, region, table_name, record) for record in records]
        self._journal.replace(entries)


def _touched_keys(operation: str, body: dict[str, Any], backend: Any) -> list[tuple[str, dict[str, Any]]]:
    """(table, key) of every item a successful write may have changed."""

    def key_of(table_name: str, item: dict[str, Any]) -> dict[str, Any]:
        table = backend.get_table(table_name)
        names = [table.hash_key_attr] + ([table.range_key_attr] if table.range_key_attr else [])
        return {name: item[name] for name in names if name in item}

    if operation == "PutItem":
        return [(body["TableName"], key_of(body["TableName"], body.get("Item") or {}))]
    if operation in ("UpdateItem", "DeleteItem"):
        return [(body["TableName"], body.get("Key") or {})]
    touched: list[tuple[str, dict[str, Any]]] = []
    if operation == "BatchWriteItem":
        for table_name, requests in (body.get("RequestItems") or {}).items():
            for request in requests:
                if "PutRequest" in request:
                    touched.append((table_name, key_of(table_name, request["PutRequest"].get("Item") or {})))
                elif "DeleteRequest" in request:
                    touched.append((table_name, request["DeleteRequest"].get("Key") or {}))
    elif operation == "TransactWriteItems":
        for entry in body.get("TransactItems") or []:
            if "Put" in entry:
                touched.append((entry["Put"]["TableName"], key_of(entry["Put"]["TableName"], entry["Put"]["Item"])))
            for kind in ("Update", "Delete"):
                if kind in entry:
                    touched.append((entry[kind]["TableName"], entry[kind]["Key"]))
    return touched
