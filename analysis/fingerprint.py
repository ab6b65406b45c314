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

Size limits, which pt does not have: a fingerprint is stored cut at ``MAX_FINGERPRINT_CHARS``
(64 Ki characters) with ``…[cut]`` at the end, but its query ID is the MD5 of the whole
fingerprint, so long statements that share a prefix stay apart. A statement over 256 Ki
characters is fingerprinted by the same rules in windows (see ``_normalise_long``), in at
most about twice its size in memory: a 100 MB ``IN (...)`` list took 1 to 2.9 GB before.

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
from collections.abc import Callable, Iterable, Iterator
from hashlib import md5

from analysis.slowlog import TRUNCATED

__all__ = ["MAX_FINGERPRINT_CHARS", "fingerprint", "fingerprint_and_id", "query_id"]

# A stored fingerprint longer than this is cut here and ends with TRUNCATED ("…[cut]"); its
# query ID is still the MD5 of the whole fingerprint, so two long statements that share a
# prefix stay two classes. 64 Ki characters, as for a digest's examples: fingerprints of
# real statements are shorter (a 2,000-column upsert, the widest in the tests, gives 42 K
# and stays whole, byte-identical to pt), while one generated 10 MB statement no longer
# makes a 21 MB digest.
MAX_FINGERPRINT_CHARS = 65536

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
        query = _sub(_MULTI_LINE_COMMENT, "", query, _cut_after_comments)
    if "#" in query or "--" in query:
        query = _sub(_ONE_LINE_COMMENT, "", query, _cut_after_line_end)
    use = _USE.match(query)
    if use is not None:
        return "use ?" + query[use.end() :]
    if len(query) > _LONG_STATEMENT:
        return _fold(_normalise_long(query))

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
    return _fold(query)


def _fold(query: str) -> str:
    """The rules after ``null``: fold IN lists and repeated UNIONs, LIMIT, ``ASC``."""
    if "(" in query:
        query = _IN_LIST.sub(r"\1(?+)", query)
    if "union" in query:
        query = _UNION.sub(r"\1 /*repeat\2*/", query)
    if "limit" in query:
        query = _LIMIT.sub("limit ?", query, count=1)
    if "asc" in query:
        query = _strip_order_by_asc(query)
    return query


# --- Long statements, in windows ---------------------------------------------------------
# re.sub keeps every piece of its output, a new object for each stretch between two
# matches, until it joins them: on a 100 MB `IN (1, 2, 3, ...)` list that is tens of
# millions of objects, and one fingerprint took 1.0 GB (2.9 GB for `IN (1, 1, ...)`,
# whose pieces between numbers are 2-character objects). A statement longer than
# _LONG_STATEMENT therefore goes through the same rules, in the same order, in windows of
# about _WINDOW characters, each cut where no match of the rule can straddle the cut: after
# a character no match of the rule can hold ("safe" below), or, for strings and /* */
# comments, where a left-to-right scan is outside any of them. The rules that must see the
# text whole (IN lists, UNION, LIMIT, ASC) then run on the joined result, as usual: they
# find few matches. Peak memory is at most about twice the statement, less than
# pt-fingerprint takes (bench/fingerprint_memory.py: 0.7x for the first list above, 2.0x
# for the second), in about pt's time. tests/analysis/test_fingerprint_limits.py runs the
# corpus through this path in tiny windows and compares long statements with pt.
_LONG_STATEMENT = 1 << 18
_WINDOW = 1 << 16

_Cut = Callable[[str, int, int], int]


def _last_safe(unsafe: str) -> re.Pattern[str]:
    """Matches up to and including the last character that is not in ``[unsafe]``."""
    return re.compile(r"(?s:.*)[^" + unsafe + "]", _A)


_LAST_LINE_END = re.compile(r"(?s:.*)[\r\n]")
_LAST_NOT_WORD = _last_safe("0-9A-Za-z_")
_LAST_NOT_SPACE = _last_safe(" \n\t\r\f")
# The longest prefix of a window that sub's scan sees as plain text and whole strings: it
# stops at a quote whose string does not end inside the window, or ends at its last
# character (the character after a closing quote decides whether that quote is doubled).
# The same for /* */ comments, where a "/" at the end of the window may open one.
_STRINGS_PREFIX = re.compile(r"(?:[^'\"]++|(?:" + _STRING + r")(?=.))*+", _A | re.S)
_COMMENTS_PREFIX = re.compile(r"(?:[^/]++|/(?=[^*])|/\*!|/\*[^!].*?\*/)*+", _A | re.S)
_ESCAPED_BYTES = frozenset(map(chr, range(0xDC80, 0xDD00)))  # surrogateescape's bytes


def _cut_after_strings(text: str, pos: int, end: int) -> int:
    return _STRINGS_PREFIX.match(text, pos, end).end()  # type: ignore[union-attr]


def _cut_after_comments(text: str, pos: int, end: int) -> int:
    return _COMMENTS_PREFIX.match(text, pos, end).end()  # type: ignore[union-attr]


def _cut_after_line_end(text: str, pos: int, end: int) -> int:
    if end >= len(text):
        return len(text)
    last = _LAST_LINE_END.match(text, pos, end)
    return pos if last is None else last.end()


def _sub(pattern: re.Pattern[str], repl: str, text: str, cut: _Cut) -> str:
    if len(text) <= _LONG_STATEMENT:
        return pattern.sub(repl, text)
    return "".join(_iter_sub(text, pattern, repl, cut))


def _iter_sub(text: str, pattern: re.Pattern[str], repl: str, cut: _Cut) -> Iterator[str]:
    """``pattern.sub(repl, text)`` in pieces (``repl`` a plain string). ``cut(text, pos, end)``
    is the furthest point in ``pos..end`` where sub's left-to-right scan from ``pos`` is
    between two matches whatever follows ``end``, or ``pos`` if there is none."""
    n = len(text)
    pos = 0
    while pos < n:
        width = _WINDOW
        while True:
            end = min(pos + width, n)
            stop = cut(text, pos, end)
            if stop > pos or end == n:
                break
            width *= 2  # a string or comment longer than the window
        if stop > pos:
            yield pattern.sub(repl, text[pos:stop])
            pos = stop
        else:  # text[pos] opens a string or comment that is unclosed or ends the text
            match = pattern.match(text, pos)
            if match is None:  # unclosed: sub moves on by one character
                yield text[pos]
                pos += 1
            else:
                yield repl
                pos = match.end()


def _windows(text: str) -> Iterator[str]:
    for start in range(0, len(text), _WINDOW):
        yield text[start : start + _WINDOW]


def _stream_sub(chunks: Iterable[str], rule: _Rule) -> Iterator[str]:
    """``pattern.sub(repl, "".join(chunks))`` in pieces, each ending right after a character
    that ``last_safe`` finds and no match of ``pattern`` can hold. Such a character is not a
    word character wherever ``pattern`` looks behind (``\\b``, ``(?<!``), so each piece
    starts with the context it has in the whole text. A piece that ``needed`` says holds no
    match is passed on as it is."""
    pattern, repl, last_safe, needed = rule
    pending: list[str] = []
    for chunk in chunks:
        safe = last_safe.match(chunk)
        if safe is None:
            pending.append(chunk)
            continue
        stop = safe.end()
        pending.append(chunk[:stop])
        piece = "".join(pending)
        yield pattern.sub(repl, piece) if needed(piece) else piece
        pending = [chunk[stop:]] if stop < len(chunk) else []
    if pending:
        piece = "".join(pending)
        yield pattern.sub(repl, piece) if needed(piece) else piece


def _stream_lstrip(chunks: Iterable[str]) -> Iterator[str]:
    chunks = iter(chunks)
    for chunk in chunks:
        chunk = chunk.lstrip(_LEADING_SPACE)
        if chunk:
            yield chunk
            break
    yield from chunks


def _stream_chomp(chunks: Iterable[str]) -> Iterator[str]:
    last = ""
    for chunk in chunks:
        if chunk:
            if last:
                yield last
            last = chunk
    yield last[:-1] if last.endswith("\n") else last


def _stream_lower(chunks: Iterable[str]) -> Iterator[str]:
    """``_ascii_lower`` of the whole. Escaped bytes that end a piece wait for the next one:
    with the bytes after them they may decode to one character, as in the whole text."""
    held = ""
    for chunk in chunks:
        if held:
            chunk = held + chunk
        if chunk.isascii():
            held = ""
            yield chunk.lower()
            continue
        stop = len(chunk)
        while stop and chunk[stop - 1] in _ESCAPED_BYTES:
            stop -= 1
        held = chunk[stop:]
        yield _ascii_lower(chunk[:stop])
    if held:
        yield _ascii_lower(held)


def _always(piece: str) -> bool:
    return True


def _has_boolean(piece: str) -> bool:
    folded = piece.lower()
    return "true" in folded or "false" in folded


def _has_upper_number(piece: str) -> bool:
    return "0x" in piece or "E" in piece


def _has_whitespace_run(piece: str) -> bool:
    return ("\n" in piece or "\t" in piece or "\r" in piece or "\f" in piece
            or "  " in piece)


# (rule, replacement, last safe character, test that a piece may hold a match): the test is
# the cheap guard of _fingerprint, taken per piece; safe characters are the ones that no
# match of the rule can hold.
_Rule = tuple[re.Pattern[str], str | Callable[[re.Match[str]], str], re.Pattern[str],
              Callable[[str], bool]]
_STREAMED_RULES: tuple[_Rule, ...] = (  # after the string rule, up to lower-casing
    (_STRAY_ESCAPED_QUOTE, "", _last_safe(r"\\"), lambda piece: "\\" in piece),
    (_BOOLEANS, "?", _LAST_NOT_WORD, _has_boolean),
    (_UPPER_NUMBER, _lower_match, _last_safe("0-9A-Za-z_.+-"), _has_upper_number),
    (_NUMBER, "?", _last_safe("0-9a-f.xb+-"), _always),
    (_SIGNED_PLACEHOLDER, "?", _last_safe("xb.+-"), lambda piece: "?" in piece),
)
_STREAMED_WHITESPACE: _Rule = (_WHITESPACE, " ", _LAST_NOT_SPACE, _has_whitespace_run)
_STREAMED_NULL: _Rule = (_NULL, "?", _LAST_NOT_WORD, lambda piece: "null" in piece)


def _normalise_long(query: str) -> str:
    """The rules from strings to ``null`` of :func:`_fingerprint`, streamed."""
    if "'" in query or '"' in query:
        chunks: Iterable[str] = _iter_sub(query, _STRINGS, "?", _cut_after_strings)
    else:
        chunks = _windows(query)
    for rule in _STREAMED_RULES:
        chunks = _stream_sub(chunks, rule)
    chunks = _stream_chomp(_stream_lstrip(chunks))
    chunks = _stream_lower(_stream_sub(chunks, _STREAMED_WHITESPACE))
    return "".join(_stream_sub(chunks, _STREAMED_NULL))


# --- Cache keyed by the statement's shape ----------------------------------------------
# Slow logs repeat the same statement with different literals far more often than verbatim
# (a log of 600,000 generated entries has 10 classes, 51 shapes and 300,000 distinct texts), so
# results are cached by *shape*: the statement with every string literal replaced by '' and
# every run of ASCII digits by one mark -- about 3 us against 10 to 30 us for a fingerprint.
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
_SHAPE_DIGITS = bytes.maketrans(b"0123456789 \t\n\x0b\x0c\r", b"          012345")
# the tests of the cases above, on the statement with its strings replaced (digit runs are
# what the shape makes them all alike)
_SHAPE_HEX = re.compile(r"[0-9][xX]")
_SHAPE_UNSAFE_START = re.compile(r"\s*call\s|administrator command: ", _A | re.I)
_SHAPE_UNSAFE_FIRST = " \t\n\r\x0b\x0caAcC"  # the first characters _SHAPE_UNSAFE_START can match
_SHAPE_CHECKSUM = re.compile(r":[0-9]+/[0-9]+\*/")  # pt's checksum comment
_SHAPE_MYSQLDUMP = re.compile(r"SELECT /\*![0-9]+ SQL_NO_CACHE \*/")
_SHAPE_INSERT = re.compile(r"(?:INSERT|REPLACE)", _A | re.I)
_COMMENT_MARKERS = ("/*", "*/", "#", "--")
_shape_cache: dict[bytes, tuple[str, str]] = {}  # shape -> (fingerprint, id)
_id_cache: dict[str, str] = {}


def _quote_kind(match: re.Match[str]) -> str:
    return "''" if match.group()[0] == "'" else '""'


def _single_quoted_key(sql: str) -> str | None:
    """``_STRINGS.sub("''", sql)`` for a statement whose only quote is ``'`` and which has no
    backslash, without the regex (a third of its cost), or None when a quote is left outside
    any string (an odd number of quotes).

    Then the strings are what lies between the 1st and 2nd quote, the 3rd and 4th, ...,
    joined across a doubled quote (an empty piece between the 2nd and 3rd quote is ``''``
    inside one string), as _STRINGS pairs them: each of its strings takes an even number of
    quotes, so with an even number in all none is left open."""
    parts = sql.split("'")
    if not len(parts) & 1:
        return None
    outside = parts[::2]
    if "" in outside[1:-1]:  # a doubled quote: the strings on both sides are one
        outside = [parts[0], *[p for p in parts[2:-1:2] if p], parts[-1]]
    return "''".join(outside)


def _shape(sql: str) -> bytes | None:
    """The cache key of ``sql`` (see above), or None when it must not be cached."""
    if len(sql) > _SHAPE_MAX_LENGTH:
        return None
    key = sql
    comments = ("#" in sql or "-" in sql and "--" in sql
                or "*" in sql and ("/*" in sql or "*/" in sql))
    double = '"' in sql
    if "'" in sql or double:
        if double or "\\" in sql:
            key, n = _STRINGS.subn("''", sql)
            if key.count("'") + key.count('"') != 2 * n:
                return None
        else:
            key = _single_quoted_key(sql)  # type: ignore[assignment]
            if key is None:
                return None
        if comments:
            for marker in _COMMENT_MARKERS:
                if marker in sql and sql.count(marker) != key.count(marker):
                    return None
            if double and "/*" in sql:
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
    if head[:1] in "uU" and head[:4].lower() == "use ":
        return None
    if ("x" in key or "X" in key) and _SHAPE_HEX.search(key):  # 0x, 1X, ...; the search
        return None  # alone took a third of the shape's time on statements full of numbers
    if key[:1] in _SHAPE_UNSAFE_FIRST and _SHAPE_UNSAFE_START.match(key):
        return None
    if comments and (_SHAPE_CHECKSUM.search(key) or _SHAPE_MYSQLDUMP.match(key)):
        return None
    # Every run of digits becomes one space: digits are mapped to spaces and the six ASCII
    # spaces to the freed digit codes (one to one), and bytes.split() cuts at runs of spaces
    # in one pass -- for an IN list of 28 numbers 2.4 times faster than replacing runs with
    # a regex. The brackets keep a run at either end.
    shape = b"<" + key.encode("utf-8", "surrogatepass").translate(_SHAPE_DIGITS) + b">"
    return b" ".join(shape.split())


def fingerprint(sql: str) -> str:
    """Return the pt-query-digest fingerprint of ``sql``: literals as ``?``, canonical spelling.

    Statements that differ only in literal values, comments, whitespace or letter case get
    the same fingerprint, which is what groups a slow log into query classes. One longer
    than ``MAX_FINGERPRINT_CHARS`` (64 Ki characters) is cut there and ends with ``…[cut]``.

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
    if len(fingerprint) <= _WINDOW:
        digest = md5(fingerprint.encode("utf-8", "surrogateescape"), usedforsecurity=False)
    else:  # in slices, without a second copy of a huge fingerprint
        digest = md5(usedforsecurity=False)
        for piece in _windows(fingerprint):
            digest.update(piece.encode("utf-8", "surrogateescape"))
    return digest.hexdigest().upper()


def fingerprint_and_id(sql: str) -> tuple[str, str]:
    """Return ``(fingerprint(sql), query_id(...))``, the pair a slow-log entry is stored under.

    The ID is that of the whole fingerprint, also when the fingerprint returned is cut at
    ``MAX_FINGERPRINT_CHARS`` (then it ends with ``…[cut]``).

    >>> fingerprint_and_id("select 1")
    ('select ?', '1FE1379FE2A31B8D16219655761820A2')
    >>> fp, qid = fingerprint_and_id("select " + "a" * 70_000)
    >>> len(fp), fp[-12:], qid == query_id("select " + "a" * 70_000)
    (65542, 'aaaaaa…[cut]', True)
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
        if len(fp) <= _SHAPE_MAX_LENGTH:  # a cache of huge keys would be huge
            if len(_id_cache) >= _SHAPE_CACHE_SIZE:
                _id_cache.clear()
            _id_cache[fp] = qid
    if len(fp) > MAX_FINGERPRINT_CHARS:
        fp = fp[:MAX_FINGERPRINT_CHARS] + TRUNCATED
    if shape is not None:
        if len(_shape_cache) >= _SHAPE_CACHE_SIZE:
            _shape_cache.clear()
        _shape_cache[shape] = fp, qid
    return fp, qid
