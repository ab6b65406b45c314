"""gunicorn's configuration, read from the working directory (`gunicorn 'app:server'`).

It refuses to start when a non-loopback `--bind` would serve the dashboard without sign-in,
with the same one line as `python app.py`, before any worker starts.
"""

from __future__ import annotations

import sys

worker_class = "gthread"  # flask-sock (the WebSocket progress stream) needs threads


def on_starting(server) -> None:  # noqa: ANN001 - gunicorn's Arbiter
    from auth.exposure import bind_host, exposure_error
    from settings import SettingsError, load_settings

    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    hosts = [host for host in map(bind_host, server.cfg.bind) if host is not None]
    refusal = exposure_error(settings, hosts)
    if refusal:
        print(f"error: {refusal}", file=sys.stderr)
        sys.exit(2)
