r"""Query fingerprints and query IDs compatible with Percona Toolkit.

A fingerprint is the statement with every literal replaced by ``?`` and its spelling
normalised (comments dropped, whitespace collapsed, lower case, ``IN (...)`` and multi-row
``VALUES`` folded), so that all executions of "the same query" fall into one class. We port
``QueryRewriter::fingerprint`` from pt-query-digest 3.2.1 rule by rule, as precompiled
regexes applied in pt's order, because users compare our classes and IDs with pt-query-digest
reports and tools built on it: for ordinary statements the output is byte-identical to pt's.
tests/analysis/test_fingerprint.py checks that against the real Perl code (the
``pt-fingerprint`` CLI in batch mode, and pt-query-digest's own ``QueryRewriter``).

The query ID is the upper-case hex MD5 of the fingerprint's UTF-8 bytes, 32 characters.
pt-query-digest 3.x prints exactly this value as the report's "Query ID" (``0x`` + 32 hex
digits) and as ``checksum`` in ``--output json``; the tests check it against a real run.
Releases before 3.0, and tools that copied them such as Percona's qan-agent, kept only the
rightmost 16 hex digits (``uc substr(md5_hex($fp), -16)``): ``query_id(fp)[-16:]`` is that ID.

pt works on bytes (it reads slow logs without a decoding layer), so ``\s``, ``\w``, ``\b``
and lower-casing here are ASCII-only: ``É`` in an identifier stays ``É``, as in pt.

Deliberate differences from pt 3.2.1, each where pt's output depends on a literal's value
or spelling and so scatters one query over many classes. Each is tested, with pt's actual
output recorded next to ours:

1. Upper-case hex literals. pt's number rule ``[0-9+-][0-9a-f.xb+-]*`` is case-sensitive:
   ``h = 0xDEADBEEF`` gives ``h = ?deadbeef``. We give ``h = ?``, as pt does for
   ``0xdeadbeef``.
2. Upper-case exponents, as Java and many drivers print doubles: pt gives ``x = ?e?`` for
   ``x = 1.5E10`` but ``x = ?`` for ``x = 1.5e10`` or ``x = 15``. We give ``x = ?``.
3. Doubled quotes inside a string: pt's ``'.*?'`` stops at the first quote, so
   ``n = 'D''Angelo'`` gives ``n = ??`` while ``n = 'Smith'`` gives ``n = ?``. We give
   ``n = ?``. The same holds for ``""`` inside double-quoted strings.
4. A string ending in an escaped backslash: pt deletes ``\'`` before matching strings, so
   ``p = 'C:\\' and b = 1`` gives ``p = 'c:\ and b = ?`` (the literal leaks into the
   class). We give ``p = ? and b = ?``.
5. An odd number of ``"`` inside a ``'...'`` string (or the reverse), e.g. ``'5" disk'``:
   pt matches ``".*?"`` across string boundaries and leaks text. We give ``?``.
   Items 3 to 5 are one change: strings are matched in a single left-to-right pass that
   knows ``''``, ``""`` and backslash escapes, instead of pt's three passes. Outside
   strings, stray ``\'`` and ``\"`` are still deleted, as pt does.
6. A multi-row INSERT whose first row holds a string containing ``), (``: pt cuts the
   statement inside that string. We cut after the first row's closing parenthesis outside
   strings, giving ``values(?+)`` like any other multi-row INSERT.

Not a difference: ``TRUE`` and ``FALSE`` become ``?``. pt-query-digest 3.2.1 has that rule;
pt-fingerprint 3.2.1 ships an older ``QueryRewriter`` without it and keeps ``true``. We
follow pt-query-digest, whose fingerprints define the query IDs.

Kept as in pt although odd, because they do not depend on literal values: digits in
identifiers become ``?`` (``t1`` -> ``t?``, and ``db2.tbl3`` -> ``d?tbl?`` because ``2.``
reads as a number and ``b?`` as a binary literal), ``X'AB'`` gives ``x?`` but ``x'ab'``
gives ``?``, a multi-row INSERT loses its ``ON DUPLICATE KEY UPDATE`` tail while a
single-row one keeps it, ``--`` starts a comment without a following space, ``\s+ASC``
after ORDER BY also eats the ``asc`` that starts a later word (``name, ascending`` ->
``name,ending``), and comment markers inside string literals still act as comments.
"""

from __future__ import annotations

import re
from hashlib import md5

__all__ = ["fingerprint", "fingerprint_and_id", "query_id"]

# Perl's regexes here run on byte strings, so every class must be ASCII-only.
_A = re.ASCII

# --- Early returns, in pt's order -------------------------------------------------------
_MYSQLDUMP_PREFIX = "SELECT /*!40001 SQL_NO_CACHE */ * FROM `"
_PT_CHECKSUM = re.compile(r"/\*\w+\.\w+:[0-9]/[0-9]\*/", _A)
_ADMIN_PREFIX = "administrator command: "
_CALL = re.compile(r"\s*(call\s+\S+)\(", _A | re.I)

# One SQL string literal, single- or double-quoted, with backslash escapes and doubled quotes.
# Possessive quantifiers: no backtracking into a string, so no blow-up on unterminated ones.
_STRING = r"'(?:[^'\\]++|\\.|'')*+'|" r'"(?:[^"\\]++|\\.|"")*+"'

# pt: m/\A((?:INSERT|REPLACE)(?: IGNORE)?\s+INTO.+?VALUES\s*\(.*?\))\s*,\s*\(/is
# Ours skips string literals inside the first row (difference 6), and the atomic group stops
# at the first "VALUES (": when pt's search fails from there it fails from every later VALUES
# too, so retrying them (pt does) only makes INSERT ... ON DUPLICATE KEY UPDATE a=VALUES(a),
# ... quadratic.
_MULTI_INSERT = re.compile(
    r"((?:INSERT|REPLACE)(?: IGNORE)?\s+INTO(?>.+?VALUES\s*\()(?:[^'\"]|" + _STRING + r")*?\))"
    r"\s*,\s*\(",
    _A | re.I | re.S,
)

# --- Comments ----------------------------------------------------------------------------
_MULTI_LINE_COMMENT = re.compile(r"/\*[^!].*?\*/", _A | re.S)  # but not /*!version */
# Perl's \Z also matches before a final newline; the [\r\n] lookahead already covers that.
_ONE_LINE_COMMENT = re.compile(r"(?:--|#)[^'\"\r\n]*+(?=[\r\n]|\Z)", _A)
_USE = re.compile(r"use \S+(?=\n?\Z)", _A | re.I)

# --- Literals ----------------------------------------------------------------------------
_STRINGS = re.compile(_STRING, _A | re.S)
_STRAY_ESCAPED_QUOTE = re.compile(r"\\[\"']")  # pt deletes these everywhere, first
_BOOLEANS = re.compile(r"\b(?:false|true)\b", _A | re.I)
# Upper-case hex and exponents are lower-cased so pt's number rule treats them as it treats
# their lower-case spelling (differences 1 and 2). Bounded by non-word characters, so
# identifiers such as t0xAB or c1E5 are left to pt's rule.
_UPPER_NUMBER = re.compile(
    r"(?<![0-9A-Za-z_])"
    r"(?:0x[0-9a-f]*[A-F][0-9a-fA-F]*|(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)E[+-]?[0-9]+)"
    r"(?![0-9A-Za-z_])",
    _A,
)
_NUMBER = re.compile(r"[0-9+-][0-9a-f.xb+-]*+", _A)
_SIGNED_PLACEHOLDER = re.compile(r"[xb.+-]\?", _A)

# --- Normalisation after lower-casing ----------------------------------------------------
_LEADING_SPACE = " \t\n\r\f\v"  # Perl 5.18+ \s under byte semantics
# pt: tr[ \n\t\r\f][ ]s (no \v). Lone spaces are left alone: same result, fewer matches.
_WHITESPACE = re.compile(r"[ \n\t\r\f]{2,}|[\n\t\r\f]")
_NULL = re.compile(r"\bnull\b", _A)
_IN_LIST = re.compile(r"\b(in|values?)(?:[\s,]*+\([\s?,]*+\))+", _A)
_UNION = re.compile(r"\b(select\s.*?)(?:(\sunion(?:\sall)?)\s\1)+", _A)
_LIMIT = re.compile(r"\blimit \?(?:, ?\?| offset \?)?", _A)
_ORDER_BY = re.compile(r"\border by ", _A | re.I)
_ASC = re.compile(r"(.+?)\s+asc", _A | re.I)


def _ascii_lower(text: str) -> str:
    """Perl's ``lc`` on a byte string: only A-Z change, so non-ASCII bytes hash like pt's."""
    if text.isascii():
        return text.lower()
    return text.encode("utf-8", "surrogateescape").lower().decode("utf-8", "surrogateescape")


def _lower_match(match: re.Match[str]) -> str:
    return match.group().lower()


def _strip_order_by_asc(query: str) -> str:
    """pt's ``m/\\bORDER BY /gi`` then ``s/\\G(.+?)\\s+ASC/$1/gi``: drop ``ASC`` in the run of
    matches that starts right after the first ``ORDER BY`` and continues back to back."""
    anchor = _ORDER_BY.search(query)
    if anchor is None:
        return query
    pos = anchor.end()
    kept = [query[:pos]]
    while (match := _ASC.match(query, pos)) is not None:
        kept.append(match.group(1))
        pos = match.end()
    if len(kept) == 1:
        return query
    kept.append(query[pos:])
    return "".join(kept)


def _fingerprint(query: str) -> str:
    if query.startswith(_MYSQLDUMP_PREFIX):
        return "mysqldump"
    has_block_comment = "/*" in query
    if has_block_comment and _PT_CHECKSUM.search(query):
        return "percona-toolkit"
    if query.startswith(_ADMIN_PREFIX):
        return query
    call = _CALL.match(query)
    if call is not None:
        return _ascii_lower(call.group(1))
    beginning = _MULTI_INSERT.match(query)
    if beginning is not None:
        query = beginning.group(1)

    if has_block_comment:
        query = _MULTI_LINE_COMMENT.sub("", query)
    if "#" in query or "--" in query:
        query = _ONE_LINE_COMMENT.sub("", query)
    use = _USE.match(query)
    if use is not None:
        return "use ?" + query[use.end() :]

    if "'" in query or '"' in query:
        query = _STRINGS.sub("?", query)
        if "\\" in query:  # only outside well-formed strings now, e.g. after an unclosed one
            query = _STRAY_ESCAPED_QUOTE.sub("", query)
    folded = query.lower()  # only for the cheap guards below
    if "true" in folded or "false" in folded:
        query = _BOOLEANS.sub("?", query)
    if "0x" in query or "E" in query:
        query = _UPPER_NUMBER.sub(_lower_match, query)
    query = _NUMBER.sub("?", query)
    query = _SIGNED_PLACEHOLDER.sub("?", query)

    query = query.lstrip(_LEADING_SPACE)
    if query.endswith("\n"):  # chomp
        query = query[:-1]
    query = _WHITESPACE.sub(" ", query)
    query = _ascii_lower(query)
    if "null" in query:
        query = _NULL.sub("?", query)
    if "(" in query:
        query = _IN_LIST.sub(r"\1(?+)", query)
    if "union" in query:
        query = _UNION.sub(r"\1 /*repeat\2*/", query)
    if "limit" in query:
        query = _LIMIT.sub("limit ?", query, count=1)
    if "asc" in query:
        query = _strip_order_by_asc(query)
    return query


# --- Cache keyed by the statement's shape ----------------------------------------------
# Slow logs repeat the same statement with different literals far more often than verbatim
# (a log of 600,000 generated entries has 10 classes, 51 shapes and 300,000 distinct texts), so
# results are cached by *shape*: the statement with every string literal replaced by '' and
# every run of ASCII digits by 0 -- about 3 us against 10 to 30 us for a fingerprint.
#
# Two statements of the same shape have the same fingerprint: every rule above either runs
# after literals became "?" (so sees the same text), or is blind to the contents of
# strings and to the value and length of digit runs -- except in the cases below, which are
# not keyed (fingerprinted directly):
#
# * a quote outside any well-formed string (the string rules then pair quotes differently);
# * a string holding a comment marker (/* */ # --), which pt's comment rules act on, or, in
#   an INSERT/REPLACE, the word VALUES, which the multi-row INSERT rule searches for;
# * `call name(`, `administrator command:`, mysqldump's prefix and the pt checksum comment,
#   which keep or test literal text; `use ...`, whose \S+ can run into a string;
# * `0x`: pt's number rule and our upper-case hex rule treat `0x` and `1x` differently.
#
# A /* */ comment can join two strings ('a'/* */'b' becomes one string 'a''b'), so a
# statement with one keeps the kind of each quote in its key. tests/test_digest_command.py
# fuzzes this against the uncached fingerprint.
_SHAPE_MAX_LENGTH = 8192
_SHAPE_CACHE_SIZE = 4096
_SHAPE_DIGITS = bytes.maketrans(b"123456789", b"000000000")
_SHAPE_UNSAFE_START = re.compile(rb"\s*call\s|administrator command: ", re.I)
_SHAPE_UNSAFE_FIRST = b" \t\n\r\x0b\x0caAcC"  # the first bytes _SHAPE_UNSAFE_START can match
_SHAPE_MYSQLDUMP = b"SELECT /*!0 SQL_NO_CACHE */"
_SHAPE_INSERT = re.compile(r"(?:INSERT|REPLACE)", _A | re.I)
_COMMENT_MARKERS = ("/*", "*/", "#", "--")
_shape_cache: dict[bytes, tuple[str, str]] = {}  # shape -> (fingerprint, id)
_id_cache: dict[str, str] = {}


def _quote_kind(match: re.Match[str]) -> str:
    return "''" if match.group()[0] == "'" else '""'


def _shape(sql: str) -> bytes | None:
    """The cache key of ``sql`` (see above), or None when it must not be cached."""
    if len(sql) > _SHAPE_MAX_LENGTH:
        return None
    key = sql
    comments = "/*" in sql or "*/" in sql or "#" in sql or "--" in sql
    if "'" in sql or '"' in sql:
        key, n = _STRINGS.subn("''", sql)
        if key.count("'") + key.count('"') != 2 * n:
            return None
        if comments:
            for marker in _COMMENT_MARKERS:
                if marker in sql and sql.count(marker) != key.count(marker):
                    return None
            if "/*" in sql:
                key = _STRINGS.sub(_quote_kind, sql)
        if sql[:1] in "iIrR" and _SHAPE_INSERT.match(sql) and (
                sql.lower().count("values") != key.lower().count("values")):
            return None
    head = key
    if comments:
        if "/*" in head:
            head = _MULTI_LINE_COMMENT.sub("", head)
        if "#" in head or "--" in head:
            head = _ONE_LINE_COMMENT.sub("", head)
    if head[:4].lower() == "use ":
        return None
    shape = key.encode("utf-8", "surrogatepass").translate(_SHAPE_DIGITS)
    while b"00" in shape:
        shape = shape.replace(b"00", b"0")
    if b"0x" in shape or b"0X" in shape:
        return None
    if shape[:1] in _SHAPE_UNSAFE_FIRST and _SHAPE_UNSAFE_START.match(shape):
        return None
    if comments and (b":0/0*/" in shape or shape.startswith(_SHAPE_MYSQLDUMP)):
        return None
    return shape


def fingerprint(sql: str) -> str:
    """Return the pt-query-digest fingerprint of ``sql``: literals as ``?``, canonical spelling.

    Statements that differ only in literal values, comments, whitespace or letter case get
    the same fingerprint, which is what groups a slow log into query classes.

    >>> fingerprint("SELECT * FROM users WHERE id = 42 AND name = 'bob'")
    'select * from users where id = ? and name = ?'
    >>> fingerprint("select a from t where b in (1, 2, 3) order by a asc limit 10, 20")
    'select a from t where b in(?+) order by a limit ?'
    >>> fingerprint("INSERT INTO t (a, b) VALUES (1, 'x'), (2, 'y')")
    'insert into t (a, b) values(?+)'
    >>> fingerprint("SELECT * FROM t WHERE n = 'D''Angelo' AND h = 0xDEADBEEF")
    'select * from t where n = ? and h = ?'
    """
    return fingerprint_and_id(sql)[0]


def query_id(fingerprint: str) -> str:
    """Return the 32 upper-case hex digits of MD5(fingerprint), pt-query-digest's class ID.

    pt-query-digest 3.x reports this as ``0x`` + the 32 digits; its 2.x releases used the
    last 16 digits, so ``query_id(fp)[-16:]`` matches those. The fingerprint is hashed as
    UTF-8 (surrogate escapes restored to their original bytes), the bytes pt hashes.

    >>> query_id("select * from users where id = ? and name = ??")
    'F8C17A2B859376B4F6B4E74279FDCF7C'
    """
    digest = md5(fingerprint.encode("utf-8", "surrogateescape"), usedforsecurity=False)
    return digest.hexdigest().upper()


def fingerprint_and_id(sql: str) -> tuple[str, str]:
    """Return ``(fingerprint(sql), query_id(...))``, the pair a slow-log entry is stored under.

    >>> fingerprint_and_id("select 1")
    ('select ?', '1FE1379FE2A31B8D16219655761820A2')
    """
    shape = _shape(sql)
    if shape is not None:
        hit = _shape_cache.get(shape)
        if hit is not None:
            return hit
    fp = _fingerprint(sql)
    qid = _id_cache.get(fp)
    if qid is None:
        qid = query_id(fp)
        if len(_id_cache) >= _SHAPE_CACHE_SIZE:
            _id_cache.clear()
        _id_cache[fp] = qid
    if shape is not None:
        if len(_shape_cache) >= _SHAPE_CACHE_SIZE:
            _shape_cache.clear()
        _shape_cache[shape] = fp, qid
    return fp, qid
