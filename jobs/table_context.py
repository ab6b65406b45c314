"""The Tables tab of a plan: each table it reads, with indexes, rows and CREATE TABLE, cached.

Reads go through ``store.table_context``: a table read less than :data:`FRESH_SECONDS` ago
is served from the store (opening a plan must not connect to a production server each time);
``refresh=True`` (the tab's "Refresh" button, ``?refresh=true``) reads again. The collector
(collectors/table_context.py) does the reading; keeping the result is this job's.

Errors are per table and one sentence each (no monitoring account, unreachable server, table
gone); a plan-wide problem (no MYSQL_USER, instance gone from the inventory) is ``error``. A
read that failed keeps serving the last good read, marked with the error, so a server that is
down for a minute does not blank the tab.

A server with no monitoring account to connect with (the demo, whose instances are
simulated) passes ``instance_reader``: it reads a table of an instance by itself, so no
connection params are needed; everything else (inventory check, cache, errors) is the same.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from analysis.plan_tables import plan_tables
from collectors.processlist import ConnectionSettingsError, connection_params
from collectors.table_context import TableContextError, read_table_context
from settings import Settings
from store import Store

log = logging.getLogger(__name__)
FRESH_SECONDS = 3600
MAX_TABLES = 30  # a plan joins at most 61 tables; past 30 the tab is no help anyway

Reader = Callable[..., dict[str, Any]]  # (params, schema, table, timeout, *, now): a collector
# (instance, schema, table, *, now) -> the collector's fields; raises TableContextError
InstanceReader = Callable[..., dict[str, Any]]


def _fresh(doc: Mapping[str, Any] | None, now: datetime) -> bool:
    if not doc or not doc.get("read_at"):
        return False
    try:
        read_at = datetime.fromisoformat(str(doc["read_at"]).replace("Z", "+00:00"))
    except ValueError:
        return False
    if read_at.tzinfo is None:
        read_at = read_at.replace(tzinfo=UTC)
    return now - read_at < timedelta(seconds=FRESH_SECONDS)


def _from_cache(entry: dict[str, Any], cached: Mapping[str, Any],
                error: str | None) -> dict[str, Any]:
    kept = {k: v for k, v in cached.items() if k not in ("aliases", "context_id", "instance_id")}
    return {**entry, **kept, "cached": True, "error": error}


def plan_table_context(store: Store, settings: Settings, plan: Mapping[str, Any], *,
                       refresh: bool = False, now: datetime | None = None,
                       reader: Reader = read_table_context,
                       instance_reader: InstanceReader | None = None) -> dict[str, Any]:
    """``{"plan_id", "instance_id", "schema", "error", "tables": [...]}`` for a stored plan.

    Each table: ``schema``, ``table``, ``aliases``, ``cached`` (served from the store),
    ``error`` (None or a sentence) and, once read, the collector's fields and ``read_at``.
    ``reader`` is called with the instance's connection params (MYSQL_USER...);
    ``instance_reader``, when given, instead, with the instance itself (no params needed).
    """
    now = now or datetime.now(UTC)
    instance_id = str(plan.get("instance_id") or "")
    refs = plan_tables(plan.get("root"), plan.get("explained_sql"), plan.get("db"))
    answer: dict[str, Any] = {"plan_id": plan.get("plan_id"), "instance_id": instance_id,
                              "schema": plan.get("db"), "error": None, "tables": []}
    if not refs:
        answer["error"] = ("This plan reads no table on the server (only derived or "
                           "temporary tables, or no plan could be read).")
        return answer
    params, problem = None, None
    instance = store.instances.get(instance_id) if instance_id else None
    if instance is None or instance.get("gone"):
        problem = (f"{instance_id or 'This plan'} is not in the inventory (any more), so "
                   "there is no server to read the tables from.")
    elif instance_reader is None:
        try:
            params = connection_params(instance, settings)
        except ConnectionSettingsError as exc:
            problem = f"The tables cannot be read: {exc}."
    answer["error"] = problem
    can_read = problem is None and (params is not None or instance_reader is not None)

    def read(schema: str, table: str) -> dict[str, Any]:
        if params is not None:
            return reader(params, schema, table, settings.explain_timeout_seconds, now=now)
        assert instance_reader is not None and instance is not None
        return instance_reader(instance, schema, table, now=now)

    for ref in refs[:MAX_TABLES]:
        entry: dict[str, Any] = {**ref.to_dict(), "cached": False, "error": None}
        if not ref.schema:
            entry["error"] = ("The statement ran without a default database and does not "
                              "name one for this table, so it cannot be looked up.")
            answer["tables"].append(entry)
            continue
        cached = store.table_context.get(instance_id, ref.schema, ref.table)
        if cached and not refresh and _fresh(cached, now):
            answer["tables"].append(_from_cache(entry, cached, None))
            continue
        if not can_read:  # serve the last read, if any, with why it is not fresher
            answer["tables"].append(_from_cache(entry, cached, problem) if cached
                                    else {**entry, "error": problem})
            continue
        try:
            context = read(ref.schema, ref.table)
        except TableContextError as exc:
            log.info("table context of %s.%s on %s: %s", ref.schema, ref.table, instance_id,
                     exc)
            answer["tables"].append(_from_cache(entry, cached, str(exc)) if cached
                                    else {**entry, "error": str(exc)})
            continue
        store.table_context.put(instance_id, context)
        entry.update(context)
        answer["tables"].append(entry)
    return answer


def read_at_text(value: str | None) -> str:
    """"YYYY-MM-DD HH:MM:SS UTC" for a stored ``read_at``."""
    return f"{str(value).replace('T', ' ')[:19]} UTC" if value else ""

