"""The demo's Tables tab: real MariaDB table context (demo/plans/tables.json) read "now".

The Plans page's Tables tab reads each table a plan reads (indexes, estimated rows, CREATE
TABLE) with the monitoring account; the demo's instances are simulated and have no account,
so the tab would only say "MYSQL_USER is not set", an error a newcomer cannot fix. Instead
demo/record_plans.py read, once, every table the recorded plans read with the real collector
(collectors.table_context.read_table_context) on the same throwaway MariaDB, and this module
serves those reads as jobs.table_context's ``instance_reader`` (services.table_reader).

orders-prd-1 lost ``orders.idx_created_at`` (demo/recorded_plans.py): it is served the
shop.orders read after the DROP INDEX, so its full-scan plan's Tables tab shows why.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from collectors.table_context import TableContextError
from demo.recorded_plans import PLANS_DIR, REGRESSED_INSTANCE, TABLES_FILE
from store.flags import utc_iso

Key = tuple[str, str]


@functools.cache
def recorded_tables() -> tuple[dict[Key, dict[str, Any]], dict[Key, dict[str, Any]]]:
    """(every recorded table, the tables as read after the DROP INDEX), by (schema, table);
    read once: the file never changes while the demo runs."""
    doc = json.loads((PLANS_DIR / TABLES_FILE).read_text(encoding="utf-8"))

    def by_name(tables: list[dict[str, Any]]) -> dict[Key, dict[str, Any]]:
        return {(t["schema"], t["table"]): t for t in tables}

    return by_name(doc["tables"]), by_name(doc.get("after_drop_index") or [])


def read_recorded_table(instance: Mapping[str, Any], schema: str, table: str, *,
                        now: datetime | None = None) -> dict[str, Any]:
    """What collectors.table_context.read_table_context would return for ``schema.table`` on
    the demo's ``instance``, from the recording; a table the recording lacks fails the way a
    table gone from a real server does (:class:`TableContextError`)."""
    tables, after_drop = recorded_tables()
    key = (schema, table)
    recorded = (after_drop.get(key) if instance.get("instance_id") == REGRESSED_INSTANCE
                else None) or tables.get(key)
    if recorded is None:
        raise TableContextError(
            f"{schema}.{table} was not found on the server (dropped or renamed since the "
            "plan was recorded?), or the monitoring account may not see it.")
    context = json.loads(json.dumps(recorded))  # a copy: callers may change what they get
    context["read_at"] = utc_iso(now or datetime.now(UTC))
    return context
