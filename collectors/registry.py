"""The collectors this app has: every module of `collectors/` that declares a `COLLECTOR`.

Found by walking the package, so a new source needs no line here or in webapp.py. Listed in
module order, which is stable.
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache

import collectors
from collectors.base import Collector
from settings import Settings


@cache
def registered() -> dict[str, Collector]:
    """name -> Collector, for every collector module (imported once)."""
    found: dict[str, Collector] = {}
    for module_info in sorted(pkgutil.iter_modules(collectors.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"collectors.{module_info.name}")
        collector = getattr(module, "COLLECTOR", None)
        if isinstance(collector, Collector):
            if collector.name in found:
                raise RuntimeError(f"two collectors are named {collector.name!r}")
            found[collector.name] = collector
    return found


def get(name: str) -> Collector:
    """The collector called `name`; KeyError names the known ones."""
    known = registered()
    if name not in known:
        raise KeyError(f"no collector {name!r}; known: {', '.join(sorted(known))}")
    return known[name]


def statuses(settings: Settings) -> list[dict]:
    """Each collector's status (see Collector.status), for the API and /healthz."""
    return [collector.status(settings) for collector in registered().values()]
