"""The signed-in party of a request and what its role lets it do."""

from __future__ import annotations

from dataclasses import dataclass

VIEWER = "viewer"
OPERATOR = "operator"


@dataclass(frozen=True)
class Principal:
    """A user, a token or a proxy-signed user; `via` says which, for logs and the navbar.

    A viewer reads everything with literals masked. An operator also starts collections,
    switches capture, refreshes the inventory, runs EXPLAIN and reveals literals.
    """

    name: str
    role: str
    via: str  # "session" | "token" | "proxy" | "open" (no sign-in configured)

    @property
    def is_operator(self) -> bool:
        return self.role == OPERATOR

    @property
    def signed_in(self) -> bool:
        """Did a real sign-in put this principal here (not the open, loopback-only mode)?"""
        return self.via != "open"


# Who everyone is when no sign-in is configured: the app then listens on loopback only,
# so the one local user may do everything, exactly as before sign-in existed.
OPEN_ACCESS = Principal(name="local", role=OPERATOR, via="open")
