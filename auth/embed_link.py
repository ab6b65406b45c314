"""Signed embed links: one chart, its exact parameters, until a day, without sign-in.

A wiki on another site cannot send the viewer's session cookie into an iframe (the cookie is
`SameSite=Lax`), so an operator may hand out a link instead (EMBED_LINK_DAYS). The link's
signature covers the `/embed/<chart>` path, every query parameter and the last valid day,
so it opens that one chart and nothing else: changing a parameter, the chart or the day
breaks it, and it never works on the API or a page. Whoever holds it sees that chart
(masked, read-only) until it expires or SECRET_KEY changes; that is the risk the README
states.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, timedelta
from urllib.parse import urlencode

from auth.principal import VIEWER, Principal

EMBED_PREFIX = "/embed/"
EXPIRES = "exp"
SIGNATURE = "sig"
LINK_PRINCIPAL = Principal(name="embed link", role=VIEWER, via="embed-link")
_CONTEXT = b"slowquery embed link v1"


def _key(secret_key: str) -> bytes:
    """A key of its own, so a link's signature can never pass as a session cookie's."""
    return hmac.new(secret_key.encode(), _CONTEXT, hashlib.sha256).digest()


def _canonical(path: str, params: Iterable[tuple[str, str]]) -> bytes:
    return f"{path}?{urlencode(sorted(params))}".encode()


def _signature(secret_key: str, path: str, params: Iterable[tuple[str, str]]) -> str:
    digest = hmac.new(_key(secret_key), _canonical(path, params), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def sign_embed_query(secret_key: str, chart: str, params: Mapping[str, str], days: int,
                     today: date | None = None) -> dict[str, str]:
    """The query parameters of a signed link to `/embed/<chart>`: `params`, the last valid
    day (`exp`, UTC) and the signature (`sig`)."""
    last_day = (today or datetime.now(UTC).date()) + timedelta(days=days)
    query = {**{k: v for k, v in params.items() if v not in (None, "")},
             EXPIRES: last_day.isoformat()}
    query[SIGNATURE] = _signature(secret_key, EMBED_PREFIX + chart, query.items())
    return query


def verify_embed_link(secret_key: str, path: str, args: Iterable[tuple[str, str]],
                      today: date | None = None) -> bool:
    """Does this request carry a valid, unexpired signature for exactly this path and query?"""
    if not secret_key or not path.startswith(EMBED_PREFIX):
        return False
    pairs = list(args)
    signatures = [value for name, value in pairs if name == SIGNATURE]
    expires = [value for name, value in pairs if name == EXPIRES]
    if len(signatures) != 1 or len(expires) != 1:
        return False
    try:
        last_day = date.fromisoformat(expires[0])
    except ValueError:
        return False
    if last_day < (today or datetime.now(UTC).date()):
        return False
    signed = [(name, value) for name, value in pairs if name != SIGNATURE]
    return hmac.compare_digest(signatures[0], _signature(secret_key, path, signed))
