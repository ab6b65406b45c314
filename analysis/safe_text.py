"""Text that is safe to put in an error message: short excerpts and URLs without secrets.

Error messages quote what the caller sent so the caller can find the mistake, but a 20 MB
request body must not come back whole (nor fill a log line), so every quote of untrusted
input goes through :func:`excerpt`. Messages from libraries may carry a configured URL, and a
URL may carry credentials (``http://user:secret@host``), so they go through
:func:`redact_urls` before they reach a page, an API answer or a log line.

>>> excerpt("x" * 500, 10)
"'xxxxxxxxxx'… (500 characters)"
>>> redact_urls("cannot reach http://user:s3cr@t@10.0.0.1:4566/ (timeout)")
'cannot reach http://***@10.0.0.1:4566/ (timeout)'

Pure: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

__all__ = ["EXCERPT_CHARS", "excerpt", "redact_urls"]

EXCERPT_CHARS = 100
_BIG_INT_BITS = 1000  # repr() of a longer int is slow (and refused past 4300 digits)
# scheme://userinfo@ — userinfo may hold '@' and ':' but no '/', '?', '#' or whitespace;
# greedy, so the last '@' before the host ends it.
_USERINFO = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.-]*://)[^/?#\s]*@")


def excerpt(value: object, limit: int = EXCERPT_CHARS, *, quote: bool = True) -> str:
    """A rendering of untrusted input, at most about ``limit`` characters long.

    Strings are quoted (``repr``) unless ``quote`` is false, for ids that read better bare.

    >>> excerpt("2026-13"), excerpt("db-1|Q9", quote=False)
    ("'2026-13'", 'db-1|Q9')
    >>> excerpt(["a", "b"]), excerpt({"k": 1}), excerpt(10 ** 400)
    ('a list of 2 items', 'an object with 1 member', 'a number of 1,329 bits')
    """
    if isinstance(value, str):
        shown = repr if quote else str
        if len(value) <= limit:
            return shown(value)
        return f"{shown(value[:limit])}… ({len(value):,} characters)"
    if isinstance(value, int) and not isinstance(value, bool) and (
            value.bit_length() > _BIG_INT_BITS):
        return f"a number of {value.bit_length():,} bits"
    if isinstance(value, (bool, int, float)) or value is None:
        return repr(value)[:limit]
    if isinstance(value, (list, tuple)):
        return f"a list of {len(value):,} item{'' if len(value) == 1 else 's'}"
    if isinstance(value, Mapping):
        return f"an object with {len(value):,} member{'' if len(value) == 1 else 's'}"
    return type(value).__name__


def redact_urls(text: str) -> str:
    """``text`` with the credentials of every URL in it replaced by ``***``.

    botocore puts the endpoint URL in its messages (``Could not connect to the endpoint URL:
    "http://user:secret@..."``) and pymongo may echo its URI; a settings value is trusted but
    its secret must still never be shown.
    """
    return _USERINFO.sub(r"\g<scheme>***@", text)
