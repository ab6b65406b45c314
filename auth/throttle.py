"""Sign-in failures counted per user name and per address, in the store.

Kept in the store (not process memory) so every gunicorn worker sees the same count and a
restart does not reset an attack in progress. A key is locked for the rest of its window
once it reaches its limit; a successful sign-in clears the user's count.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from store.flags import FlagRepository, utc_iso

WINDOW = timedelta(minutes=15)
MAX_FAILURES_PER_USER = 5
MAX_FAILURES_PER_ADDRESS = 20


@dataclass(frozen=True)
class Lockout:
    retry_after_seconds: int


class SignInThrottle:
    def __init__(self, flags: FlagRepository) -> None:
        self._flags = flags

    @staticmethod
    def _keys(username: str, address: str) -> list[tuple[str, int]]:
        return [(f"signin-failures:user:{username[:100].lower()}", MAX_FAILURES_PER_USER),
                (f"signin-failures:addr:{address}", MAX_FAILURES_PER_ADDRESS)]

    def _window(self, key: str, now: datetime) -> dict:
        value = self._flags.get(key) or {}
        started = value.get("since")
        if not started or datetime.fromisoformat(started.replace("Z", "+00:00")) + WINDOW <= now:
            return {"since": utc_iso(now), "failures": 0}
        return value

    def locked(self, username: str, address: str, now: datetime | None = None) -> Lockout | None:
        """A lockout while either the user or the address has used up its failures."""
        moment = now or datetime.now(UTC)
        for key, limit in self._keys(username, address):
            window = self._window(key, moment)
            if window["failures"] >= limit:
                since = datetime.fromisoformat(window["since"].replace("Z", "+00:00"))
                return Lockout(max(1, int((since + WINDOW - moment).total_seconds())))
        return None

    def failed(self, username: str, address: str, now: datetime | None = None) -> None:
        moment = now or datetime.now(UTC)
        for key, _limit in self._keys(username, address):
            window = self._window(key, moment)
            self._flags.set(key, {"since": window["since"], "failures": window["failures"] + 1})

    def succeeded(self, username: str) -> None:
        key, _limit = self._keys(username, "")[0]
        self._flags.set(key, {"since": None, "failures": 0})
