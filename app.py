"""Entry point: `create_app(settings)` builds the dashboard; `python app.py` serves it.

Importing this module does nothing: no connection, no environment read, no scheduler. The
WSGI object for gunicorn (`gunicorn 'app:server'`) is built on first access to `server`, from
the environment, so the same file serves the command line, gunicorn and the tests.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from commands import accounts as account_commands
from commands import digest as digest_commands
from settings import Settings, SettingsError, load_settings

if TYPE_CHECKING:
    import dash

log = logging.getLogger("slowquery")


def create_app(settings: Settings) -> dash.Dash:
    """Build the Dash app, its API and (behind a setting) its scheduler from one Settings.

    The web stack is imported here, not at the top, so `python app.py digest` stays light.
    """
    from webapp import build_app

    return build_app(settings)


def __getattr__(name: str) -> Any:
    """`app.server` for gunicorn, built lazily from the environment on first access."""
    if name == "server":
        from store import StoreError

        try:
            server = create_app(load_settings()).server
        except (SettingsError, StoreError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            raise SystemExit(2) from None
        globals()["server"] = server
        return server
    raise AttributeError(name)


def _parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="app.py",
                                     description="Slow Query Dashboard for AWS RDS MySQL")
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
    account_commands.add_user_arguments(
        sub.add_parser("user", help="manage the users who sign in (AUTH_USERS_FILE)"))
    account_commands.add_token_arguments(
        sub.add_parser("token", help="manage API tokens (AUTH_TOKENS_FILE)"))
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(sys.argv[1:] if argv is None else argv)
    if args.command == "digest":
        return digest_commands.run(args)
    if args.command == "user":
        return account_commands.run_user(args)
    if args.command == "token":
        return account_commands.run_token(args)
    # imported here, not at the top, so that `app.py digest` starts without them
    from auth.exposure import exposure_error
    from store import StoreError

    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        settings = load_settings()
        host = args.host or settings.host
        refusal = exposure_error(settings, [host])
        if refusal:
            raise SettingsError(refusal)
        settings = replace(settings, host=host)  # the guard's default allowed hosts
        if args.demo:
            from demo.server import start_demo

            settings = start_demo(settings)
        app = create_app(settings)
    except (SettingsError, StoreError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if settings.demo:
        from webapp import start_demo_collection

        start_demo_collection(app)
    port = args.port or settings.port
    log.info("serving on http://%s:%s (store: %s)", host, port, settings.store_kind)
    # SIGTERM as Ctrl-C: exit through atexit, which hands the scheduler lease over
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    app.run(host=host, port=port, debug=args.debug)
    return 0


if __name__ == "__main__":
    sys.exit(main())
