"""gunicorn's configuration, read from the working directory (`gunicorn 'app:server'`).

It refuses to start when a non-loopback `--bind` would serve the dashboard without sign-in,
with the same one line as `python app.py`, before any worker starts. It sends the app's own
log lines to gunicorn's error log (with time, pid and level), and at a worker's exit it hands
the scheduler's lease over and stops the background work (see `worker_exit`).
"""

from __future__ import annotations

import logging
import sys

from gunicorn.glogging import Logger

worker_class = "gthread"  # flask-sock (the WebSocket progress stream) needs threads
threads = 64  # each open WebSocket holds one, and one worker may get most (see bench/load.py)

# The app's loggers: "slowquery" (app, webapp, sign-in) and the module loggers of these packages.
APP_LOGGERS = ("slowquery", "jobs", "collectors", "api", "auth", "store")


class AppLogger(Logger):
    """gunicorn's logger, also carrying the app's lines.

    Nothing else configures logging under gunicorn (`python app.py` calls basicConfig, gunicorn
    does not), so without this the app's INFO lines vanish and its warnings reach stderr bare,
    without a time. The format adds the logger's name, so a line says which part spoke.
    (APScheduler's per-run INFO lines are silenced by jobs/scheduler.py, here as everywhere.)
    """

    error_fmt = r"%(asctime)s [%(process)d] [%(levelname)s] %(name)s: %(message)s"

    def setup(self, cfg) -> None:  # noqa: ANN001 - gunicorn's Config
        super().setup(cfg)
        if cfg.logconfig or cfg.logconfig_dict or cfg.logconfig_json:
            return  # the operator's own logging configuration decides
        for name in APP_LOGGERS:
            logger = logging.getLogger(name)
            logger.handlers = list(self.error_log.handlers)
            logger.setLevel(self.error_log.level)
            logger.propagate = False


logger_class = AppLogger


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


def worker_exit(server, worker) -> None:  # noqa: ANN001 - gunicorn's Arbiter and Worker
    """Release the scheduler's lease and stop the app's background work as the worker exits.

    gunicorn calls this on every way out of a worker (SIGTERM, SIGQUIT, max_requests) before
    the interpreter shuts down. atexit alone comes too late: Python first waits for the
    threads of every pool, polls in flight included, and gunicorn kills a worker still busy
    after graceful_timeout, so the lease would be held until it expires.
    """
    from services import EXTENSION_KEY

    extensions = getattr(getattr(worker, "wsgi", None), "extensions", None) or {}
    services = extensions.get(EXTENSION_KEY)
    if services is not None:
        from webapp import shutdown_services

        shutdown_services(services)
