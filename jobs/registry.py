"""The app's scheduled jobs: every module of `jobs/` that declares `SCHEDULED_JOBS`.

webapp.py starts the scheduler by looping over these instead of wiring each job by hand, so a
new source is a collector module, a job module declaring its schedule here, and a test. A job
says how often it runs for given settings (None: not in this deployment, e.g. its collector is
not configured), and how to get its callable from the app's Services.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

import jobs
from settings import Settings

if TYPE_CHECKING:
    from services import Services


@dataclass(frozen=True)
class ScheduledJob:
    """One job the scheduler's leader runs at an interval."""

    name: str
    every_seconds: Callable[[Settings], float | None]  # None or 0: not scheduled here
    task: Callable[[Services], Callable[[], Any]]  # the callable, built from the Services
    reads: tuple[str, ...] = ()  # names of the collectors it reads (collectors/registry.py)
    run_now: bool = False  # also once at start (e.g. the inventory, so pages have instances)


@cache
def scheduled_jobs() -> tuple[ScheduledJob, ...]:
    """Every declared job, in module order (stable); names are unique."""
    found: list[ScheduledJob] = []
    for module_info in sorted(pkgutil.iter_modules(jobs.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"jobs.{module_info.name}")
        found.extend(getattr(module, "SCHEDULED_JOBS", ()))
    names = [job.name for job in found]
    duplicates = {name for name in names if names.count(name) > 1}
    if duplicates:
        raise RuntimeError(f"scheduled jobs declared twice: {', '.join(sorted(duplicates))}")
    return tuple(found)


def jobs_for(settings: Settings) -> list[tuple[ScheduledJob, float]]:
    """The jobs this deployment runs, each with its interval in seconds."""
    chosen = []
    for job in scheduled_jobs():
        seconds = job.every_seconds(settings)
        if seconds:
            chosen.append((job, float(seconds)))
    return chosen
