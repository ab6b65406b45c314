"""Entry point: `create_app(settings)` builds the dashboard; `python app.py` serves it.

Importing this module does nothing: no connection, no environment read, no scheduler. The
WSGI object for gunicorn (`gunicorn 'app:server'`) is built on first access to `server`, from
the environment, so the same file serves the command line, gunicorn and the tests.
"""

from __future__ import annotations

import argparse
import atexit
import logging
import sys
from pathlib import Path
from typing import Any

import dash
from dash import html

import api
from collectors.explain import explain_and_record
from collectors.processlist import connection_params
from commands import digest as digest_commands
from components.constants import APP_TITLE
from components.shell import create_shell
from jobs.collection import CollectionService
from jobs.inventory import InventoryService
from jobs.realtime import PlanRecorder, RealtimeService
from jobs.scheduler import Scheduler
from services import EXTENSION_KEY, Services
from settings import Settings, SettingsError, load_settings
from store import Store, StoreError, open_store

ROOT = Path(__file__).resolve().parent
log = logging.getLogger("slowquery")


def _plan_recorder(settings: Settings, store: Store) -> PlanRecorder:
    """Explain a new capture on its instance with the monitoring account (read-only)."""

    def record(instance: dict, capture: dict) -> str:
        return explain_and_record(store, instance["instance_id"], capture["sql_text"],
                                  capture.get("db"), connection_params(instance, settings),
                                  timeout_seconds=settings.explain_timeout_seconds)

    return record


def _start_scheduler(settings: Settings, services: Services) -> Scheduler:
    scheduler = Scheduler(services.store)
    if settings.inventory_refresh_minutes and (
        settings.aws_configured or settings.static_instances_file
    ):
        scheduler.add_interval_job(
            "inventory-refresh", services.inventory.refresh,
            seconds=settings.inventory_refresh_minutes * 60, run_now=True,
        )
    scheduler.add_interval_job("realtime-capture", services.realtime.poll_once,
                               seconds=settings.realtime_interval_seconds)
    scheduler.start()
    atexit.register(scheduler.shutdown)
    return scheduler


def create_app(settings: Settings) -> dash.Dash:
    """Build the Dash app, its API and (behind a setting) its scheduler from one Settings."""
    store = open_store(settings.database_url)
    services = Services(settings=settings, store=store,
                        inventory=InventoryService(settings, store),
                        collection=CollectionService(settings, store),
                        realtime=RealtimeService(settings, store,
                                                 plan_recorder=_plan_recorder(settings, store)))
    app = dash.Dash(
        __name__,
        use_pages=True,
        pages_folder=str(ROOT / "pages"),
        assets_folder=str(ROOT / "assets"),
        title=APP_TITLE,
        update_title=None,
    )
    app.server.extensions[EXTENSION_KEY] = services
    app.layout = create_shell(dash.page_registry.values(), demo=settings.demo)
    # Layouts are static skeletons (data arrives by callbacks), so building them all for
    # validation touches no database and lets Dash check every callback id.
    app.validation_layout = html.Div(
        [app.layout, *[page["layout"]() for page in dash.page_registry.values()]]
    )
    api.init_app(app.server, ws_ping_seconds=settings.ws_ping_seconds)
    if settings.scheduler_enabled:
        services.scheduler = _start_scheduler(settings, services)
    return app


def __getattr__(name: str) -> Any:
    """`app.server` for gunicorn, built lazily from the environment on first access."""
    if name == "server":
        try:
            server = create_app(load_settings()).server
        except (SettingsError, StoreError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            raise SystemExit(2) from None
        globals()["server"] = server
        return server
    raise AttributeError(name)


def _start_demo_collection(app: dash.Dash) -> None:
    """Fill the demo's digests at once, so a newcomer sees every page with data."""
    services: Services = app.server.extensions[EXTENSION_KEY]
    services.inventory.refresh()
    try:
        run = services.collection.start({})
        log.info("demo: collecting the previous month (run %s)", run["collection_id"])
    except Exception as exc:  # a demo that cannot collect still serves its pages
        log.warning("demo: collection not started: %s", exc)


def _parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="app.py", description=APP_TITLE)
    parser.add_argument("--host", help="listen address (default: HOST or 127.0.0.1)")
    parser.add_argument("--port", type=int, help="listen port (default: PORT or 8050)")
    parser.add_argument("--debug", action="store_true", help="Dash debug mode (development)")
    parser.add_argument("--demo", action="store_true",
                        help="serve a demo: an in-process AWS emulator with a tagged fleet "
                             "and a month of slow logs, on its own embedded database")
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("serve", help="serve the dashboard (the default)")
    digest_commands.add_arguments(
        sub.add_parser("digest", help="digest a slow-log file (a pt-query-digest replacement)"))
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(sys.argv[1:] if argv is None else argv)
    if args.command == "digest":
        return digest_commands.run(args)
    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        settings = load_settings()
        if args.demo:
            from demo.server import start_demo

            settings = start_demo(settings)
        app = create_app(settings)
    except (SettingsError, StoreError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if settings.demo:
        _start_demo_collection(app)
    host = args.host or settings.host
    port = args.port or settings.port
    log.info("serving on http://%s:%s (store: %s)", host, port, settings.store_kind)
    app.run(host=host, port=port, debug=args.debug)
    return 0


if __name__ == "__main__":
    sys.exit(main())
