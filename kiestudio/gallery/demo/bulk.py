"""Writing the big tables fast: batches of 2,000 straight to the database (``executemany`` on SQLite, ``COPY`` on
PostgreSQL), no signals, no services."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.utils import timezone

from kiestudio.studio.models import Generation

BATCH = 2000

# Per concrete field: its attribute name and how a value becomes a database value (None: as it is).
Pairs = list[tuple[str, Callable[..., Any] | None]]


def bulk(model, rows: list, batch: int = BATCH) -> None:
    for start in range(0, len(rows), batch):
        model.objects.bulk_create(rows[start : start + batch], batch_size=batch)


_PLAIN_TYPES = frozenset(
    {
        "AutoField",
        "BigAutoField",
        "BigIntegerField",
        "BooleanField",
        "CharField",
        "EmailField",
        "FloatField",
        "ForeignKey",
        "IntegerField",
        "PositiveBigIntegerField",
        "PositiveIntegerField",
        "PositiveSmallIntegerField",
        "SmallIntegerField",
        "TextField",
    }
)


def _reserve_ids(model, count: int) -> list[int] | None:
    """``count`` fresh primary keys, in increasing order; None on a database we have no recipe for."""
    table, column = model._meta.db_table, model._meta.pk.column
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":  # safe alongside other writers: the sequence hands them out
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)", [table, column, count]
            )
            return sorted(row[0] for row in cursor.fetchall())
        if connection.vendor == "sqlite":  # safe: the IMMEDIATE transaction holds the write lock
            qn = connection.ops.quote_name
            cursor.execute(f"SELECT COALESCE(MAX({qn(column)}), 0) FROM {qn(table)}")
            top = cursor.fetchone()[0]
            cursor.execute("SELECT COALESCE(MAX(seq), 0) FROM sqlite_sequence WHERE name = %s", [table])
            top = max(top, cursor.fetchone()[0])
            return list(range(top + 1, top + 1 + count))
    return None


def fast_insert(model, objs: list, batch: int = BATCH) -> None:
    """``bulk_create`` without the ORM's per-value SQL compilation (which dominates at 100,000 rows): primary keys
    are reserved up front, values are adapted once per field and rows go to ``executemany`` in batches. No signals
    run, as with ``bulk_create``; ``auto_now``/``auto_now_add`` fields get the current time."""
    if not objs:
        return
    ids = _reserve_ids(model, len(objs))
    if ids is None:
        bulk(model, objs, batch)
        return
    for obj, pk in zip(objs, ids, strict=True):
        obj.pk = pk
        obj._state.adding = False
    conn = connections[DEFAULT_DB_ALIAS]  # the object itself: the proxy costs a thread-local lookup per value
    fields = model._meta.concrete_fields
    _write(model, fields, conn, objs, _adapters(fields, conn, timezone.now()), batch)


def _adapters(fields, conn, stamp: datetime) -> Pairs:
    """Per field, its attribute name and how its values become database values (None: as they are)."""
    adapters: list[Callable[..., Any] | None] = []
    for f in fields:
        if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False):
            value = f.get_db_prep_save(stamp, conn)
            adapters.append(lambda _v, value=value: value)
        elif f.get_internal_type() in _PLAIN_TYPES:
            adapters.append(None)
        else:
            adapters.append(lambda v, f=f: f.get_db_prep_save(v, conn))
    return [(f.attname, adapt) for f, adapt in zip(fields, adapters, strict=True)]


def _values(chunk: list, pairs: Pairs) -> list[tuple]:
    return [
        tuple(getattr(obj, name) if adapt is None else adapt(getattr(obj, name)) for name, adapt in pairs)
        for obj in chunk
    ]


def _write(model, fields, conn, objs: list, pairs: Pairs, batch: int) -> None:
    """The rows in batches: one ``COPY`` stream on PostgreSQL, ``executemany`` elsewhere."""
    qn = conn.ops.quote_name
    with conn.cursor() as cursor:
        if conn.vendor == "postgresql":  # COPY: one stream, no per-statement parsing
            columns = ", ".join(qn(f.column) for f in fields)
            with cursor.cursor.copy(f"COPY {qn(model._meta.db_table)} ({columns}) FROM STDIN") as copy:
                for start in range(0, len(objs), batch):
                    for row in _values(objs[start : start + batch], pairs):
                        copy.write_row(row)
            return
        head = f"INSERT INTO {qn(model._meta.db_table)} ({', '.join(qn(f.column) for f in fields)}) VALUES "
        one = f"({', '.join(['%s'] * len(fields))})"
        for start in range(0, len(objs), batch):  # SQLite runs executemany in-process: the fastest way in
            cursor.executemany(head + one, _values(objs[start : start + batch], pairs))


def bulk_update(objs: list, fields: list[str]) -> None:
    """For the few rows changed after insert (``bulk_update`` builds one CASE per row, so keep batches small)."""
    for start in range(0, len(objs), 500):
        Generation.objects.bulk_update(objs[start : start + 500], fields)
