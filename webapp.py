"""The web app: Dash pages, the HTTP API and the background services, built from Settings.

Kept apart from `app.py` so the command-line sub-commands (`python app.py digest`) do not
load Dash and the web stack (0.6 s and ~60 MB they would not use).
"""

from __future__ import annotations

import atexit
import logging
from datetime import UTC, datetime
from pathlib import Path

import dash
from dash import html

import api
import api.dash_endpoints
import api.run_watch
import auth.guard
import auth.login
import shell_callbacks
from analysis.period import previous_month
from auth.access import current_principal
from auth.throttle import SignInThrottle
from components.constants import APP_TITLE
from components.shell import create_shell
from jobs.collection import CollectionService
from jobs.explain_on_demand import Explainer
from jobs.inventory import InventoryService
from jobs.plans import live_plan_recorder
from jobs.realtime import RealtimeService
from jobs.registry import jobs_for
from jobs.scheduled_collection import ScheduledCollection
from jobs.scheduler import Scheduler
from jobs.table_context import InstanceReader
from services import EXTENSION_KEY, Services
from settings import Settings
from store import Store, open_store

ROOT = Path(__file__).resolve().parent
log = logging.getLogger("slowquery")


def _start_scheduler(settings: Settings, services: Services) -> Scheduler:
    scheduler = Scheduler(services.store, lease_seconds=settings.scheduler_lease_seconds)
    for job, seconds in jobs_for(settings):  # every SCHEDULED_JOBS of jobs/ (jobs/registry.py)
        scheduler.add_interval_job(job.name, job.task(services), seconds=seconds,
                                   run_now=job.run_now)
    scheduler.start()
    # gunicorn.conf.py's worker_exit calls the same hook earlier (see there why); twice is fine
    atexit.register(shutdown_services, services)
    return scheduler


def shutdown_services(services: Services) -> None:
    """Stop this process's background work, leaving nothing stuck for the next process.

    The scheduler's lease goes first, so another worker takes the jobs over at once instead of
    after a lease period; then real-time polling stops and its connections close; the store
    closes last, when nothing of ours uses it any more. Every step may run twice.
    """
    if services.scheduler is not None:
        services.scheduler.shutdown()
    services.collection.stop_sweeper()  # its runs, if any, are swept by the next process
    services.realtime.shutdown()
    api.run_watch.shutdown(services.store.runs)  # its WebSockets close with 1001
    services.store.close()


def _realtime_service(settings: Settings, store: Store) -> RealtimeService:
    """Real-time capture on the instances' servers, or, in the demo, on simulated
    processlists with plans recorded from a real MariaDB (the demo has no server to reach)."""
    if not settings.demo:
        return RealtimeService(settings, store, plan_recorder=live_plan_recorder(settings, store))
    from demo.events import seed_demo_events
    from demo.processlist import simulated_reader
    from demo.recorded_plans import demo_plan_recorder, seed_plan_history

    latest = previous_month(datetime.now(UTC).date())
    # before the scheduler's first poll, whose plans must come after the seeded months'
    seed_plan_history(store, previous_month(latest.start), latest)
    seed_demo_events(store, previous_month(latest.start), latest)  # moto cannot backdate
    return RealtimeService(settings, store, plan_recorder=demo_plan_recorder(store),
                           reader_factory=simulated_reader)


def _demo_explainer() -> Explainer:
    """EXPLAIN on demand in the demo: its plans recorded from a real MariaDB."""
    from demo.recorded_plans import explain_recorded

    return lambda instance, sql, _db: explain_recorded(sql, instance["instance_id"])


def _demo_table_reader() -> InstanceReader:
    """The Plans page's Tables tab in the demo: tables read from a real MariaDB once."""
    from demo.recorded_tables import read_recorded_table

    return read_recorded_table


def build_app(settings: Settings) -> dash.Dash:
    """Build the Dash app, its API and (behind a setting) its scheduler from one Settings."""
    store = open_store(settings.database_url)
    collection = CollectionService(settings, store)
    services = Services(settings=settings, store=store,
                        inventory=InventoryService(settings, store),
                        collection=collection,
                        realtime=_realtime_service(settings, store),
                        schedule=ScheduledCollection(settings, store, collection),
                        explainer=_demo_explainer() if settings.demo else None,
                        table_reader=_demo_table_reader() if settings.demo else None)
    app = dash.Dash(
        __name__,
        use_pages=True,
        pages_folder=str(ROOT / "pages"),
        assets_folder=str(ROOT / "assets"),
        title=APP_TITLE,
        update_title=None,
        on_error=shell_callbacks.show_store_error,
    )
    app.server.extensions[EXTENSION_KEY] = services
    shell_callbacks.register(app)
    app.server.config["MAX_CONTENT_LENGTH"] = settings.max_request_bytes

    def shell() -> html.Div:
        """Built per page load, so the navbar shows who is signed in."""
        return create_shell(dash.page_registry.values(), demo=settings.demo,
                            principal=current_principal(), open_to_all=settings.auth_disabled)

    app.layout = shell
    # Layouts are static skeletons (data arrives by callbacks), so building them all for
    # validation touches no database and lets Dash check every callback id.
    app.validation_layout = html.Div(
        [create_shell(dash.page_registry.values(), demo=settings.demo),
         *[page["layout"]() for page in dash.page_registry.values()]]
    )
    guard = auth.guard.init_app(app.server, settings, app.csp_hashes)
    app.server.register_blueprint(
        auth.login.create_blueprint(guard, SignInThrottle(store.flags)))
    api.init_app(app.server, ws_ping_seconds=settings.ws_ping_seconds)
    api.dash_endpoints.init_app(app.server, lambda: app.callback_map)
    if settings.auth_disabled:
        log.warning("AUTH_DISABLED=true: anyone who reaches this server may use it")
    if settings.scheduler_enabled:
        services.scheduler = _start_scheduler(settings, services)
        services.collection.start_sweeper()
    return app


def start_demo_collection(app: dash.Dash) -> None:
    """Fill the demo's digests at once, so a newcomer sees every page with data."""
    services: Services = app.server.extensions[EXTENSION_KEY]
    services.inventory.refresh()
    latest = previous_month(datetime.now(UTC).date())
    for period in (previous_month(latest.start), latest):  # two months, for Compare
        try:
            run = services.collection.start({"month": period.key})
            log.info("demo: collecting %s (run %s)", period.key, run["collection_id"])
        except Exception as exc:  # a demo that cannot collect still serves its pages
            log.warning("demo: collection of %s not started: %s", period.key, exc)
