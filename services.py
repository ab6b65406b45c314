"""The one object that owns the app's configured parts, handed to every view.

`create_app` builds it and stores it on the Flask server; API routes and page callbacks
fetch it with `current_services()` instead of reading globals or the environment.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app

from jobs.collection import CollectionService
from jobs.explain_on_demand import Explainer
from jobs.inventory import InventoryService
from jobs.realtime import RealtimeService
from jobs.scheduled_collection import ScheduledCollection
from jobs.scheduler import Scheduler
from jobs.table_context import InstanceReader
from settings import Settings
from store import Store

EXTENSION_KEY = "slowquery"


@dataclass
class Services:
    """Settings, the store and the long-lived services built from them."""

    settings: Settings
    store: Store
    inventory: InventoryService
    collection: CollectionService
    realtime: RealtimeService
    scheduler: Scheduler | None = None
    explainer: Explainer | None = None  # EXPLAIN on demand without a server (the demo)
    table_reader: InstanceReader | None = None  # the Tables tab without a server (the demo)
    schedule: ScheduledCollection | None = None  # the monthly collection (COLLECT_MONTHLY_AT)


def current_services() -> Services:
    """The Services of the app handling the current request."""
    return current_app.extensions[EXTENSION_KEY]
