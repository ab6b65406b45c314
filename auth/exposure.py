"""Refuse to serve without sign-in on an address other people can reach.

Pure: takes the settings and the addresses the server binds, returns a sentence or None.
`python app.py` checks its HOST; gunicorn checks its `--bind` list (gunicorn.conf.py).
"""

from __future__ import annotations

from ipaddress import ip_address

from settings import Settings

LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1", "ip6-localhost"})


def is_loopback(host: str) -> bool:
    name = host.strip().strip("[]").lower()
    if name in LOOPBACK_NAMES or name.endswith(".localhost"):
        return True
    try:
        return ip_address(name).is_loopback
    except ValueError:
        return False


def bind_host(bind: str) -> str | None:
    """The host part of a gunicorn bind (`0.0.0.0:8050`, `[::]:80`, `:8050`); None for unix:."""
    if bind.startswith(("unix:", "fd://")):
        return None
    if bind.startswith("["):
        return bind[1:bind.index("]")]
    host, _, _port = bind.rpartition(":") if bind.count(":") == 1 else (bind, "", "")
    return host or "0.0.0.0"


def exposure_error(settings: Settings, hosts: list[str]) -> str | None:
    """One line naming the settings, when a non-loopback address would serve without sign-in."""
    if settings.auth_configured or settings.auth_disabled:
        return None
    exposed = [h for h in hosts if not is_loopback(h)]
    if not exposed:
        return None
    return (f"refusing to listen on {', '.join(exposed)} without sign-in: set AUTH_USERS_FILE, "
            "AUTH_TOKENS_FILE or AUTH_PROXY_HEADER, or AUTH_DISABLED=true to serve everyone "
            "on purpose")
