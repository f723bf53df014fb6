"""moto's server, with DynamoDB made safe and fast under concurrent transactions.

    python -m tools.shared.moto_server [--patch=MODULE ...] -H 127.0.0.1 -p PORT

The arguments are moto_server's, and --patch names a module whose patch() is applied too, before
the server starts (the deploy rehearsal adds CloudFormation's transforms this way:
tools/rehearsal/moto_cloudformation.py). The local loop itself needs none.

Two changes to moto 5.2's DynamoDB backend, applied before the server starts. Neither changes
what a request answers; both are about many requests at once, which is what `make load` does.

1. One DynamoDB request at a time. moto's backend has no locking, and its threaded server runs
   requests side by side: a TransactWriteItems that copies a table while another request writes
   to it fails with "dictionary changed size during iteration" (an HTTP 500 to the SDK), and a
   transaction that rolls back restores a copy taken before the other request's write, losing
   that write. DynamoDB (and DynamoDB Streams) requests now hold one lock; SQS and SNS, which
   long-poll, do not.

2. Transactions roll back by journal. moto deep-copies every table a transaction names before
   it starts, so each transaction costs time in proportion to the whole table and its stream
   (1.5 s per transaction at 10,000 items on this machine). The rollback only needs the items
   the transaction names and the stream's length: those are saved instead, and restored,
   without new stream records, when the transaction is cancelled.

tests/test_local_moto.py checks the transaction semantics this keeps (all or nothing, no stream
record from a cancelled transaction, no write lost beside a cancelled transaction).
"""

from __future__ import annotations

import copy
import importlib
import sys
import threading
from types import SimpleNamespace
from typing import Any

from moto.dynamodb import models as dynamodb_models
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import DynamoType
from moto.dynamodb.models.table import Table
from moto.dynamodb.responses import DynamoHandler
from moto.dynamodbstreams.responses import DynamoDBStreamsHandler
from moto.server import main

_DYNAMODB = threading.RLock()


def _one_at_a_time(call_action: Any) -> Any:
    def locked(self: Any) -> Any:
        with _DYNAMODB:
            return call_action(self)

    return locked


def _tables_by_reference(value: Any, memo: Any = None) -> Any:
    """copy.deepcopy as moto's transaction code calls it, except that a Table is not copied (the
    journal below takes its place); everything else is still copied deeply."""
    if isinstance(value, Table):
        return value
    return copy.deepcopy(value, memo)


def _key(table: Table, operation: dict[str, Any]) -> tuple[DynamoType, DynamoType | None] | None:
    attributes = operation.get("Key") or operation.get("Item") or {}
    if table.hash_key_attr not in attributes:
        return None
    range_key = None
    if table.range_key_attr is not None:
        if table.range_key_attr not in attributes:
            return None
        range_key = DynamoType(attributes[table.range_key_attr])
    return DynamoType(attributes[table.hash_key_attr]), range_key


def _restore(table: Table, hash_key: DynamoType, range_key: DynamoType | None, item: Any) -> None:
    if range_key is None:
        if item is None:
            table.items.pop(hash_key, None)
        else:
            table.items[hash_key] = item
    else:
        if item is None:
            table.items.get(hash_key, {}).pop(range_key, None)
            if hash_key in table.items and not table.items[hash_key]:
                del table.items[hash_key]
        else:
            table.items[hash_key][range_key] = item


_transact_write_items = DynamoDBBackend.transact_write_items


def transact_write_items(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
    journal = []
    streams = {}
    for entry in transact_items:
        if len(entry) != 1:
            continue  # moto answers this with a validation error before writing anything
        operation = next(iter(entry.values()))
        table = self.tables.get(operation.get("TableName"))
        key = _key(table, operation) if table is not None else None
        if key is None:
            continue
        journal.append((table, *key, copy.deepcopy(table.get_item(*key))))
        if table.stream_shard is not None:
            streams.setdefault(id(table), (table.stream_shard, len(table.stream_shard.items)))
    try:
        _transact_write_items(self, transact_items)
    except BaseException:
        for table, hash_key, range_key, item in reversed(journal):
            _restore(table, hash_key, range_key, item)
        for shard, length in streams.values():
            del shard.items[length:]
        raise


def patch() -> None:
    DynamoHandler.call_action = _one_at_a_time(DynamoHandler.call_action)
    DynamoDBStreamsHandler.call_action = _one_at_a_time(DynamoDBStreamsHandler.call_action)
    dynamodb_models.copy = SimpleNamespace(deepcopy=_tables_by_reference, copy=copy.copy)
    DynamoDBBackend.transact_write_items = transact_write_items


if __name__ == "__main__":
    patch()
    arguments = []
    for argument in sys.argv[1:]:
        if argument.startswith("--patch="):
            importlib.import_module(argument.removeprefix("--patch=")).patch()
        else:
            arguments.append(argument)
    main(arguments)
