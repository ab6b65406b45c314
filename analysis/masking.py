r"""Mask the literals of a SQL statement for display, keeping everything else as written.

Example statements in the slow log carry real values — e-mail addresses, names, tokens — so
the Digests page shows them masked unless the user asks for the literals. This is *not* the
fingerprint (analysis/fingerprint.py): the fingerprint normalises case, spacing and comments
so executions can be grouped; masking only swaps each literal for ``?`` and leaves every other
character — case, whitespace, comments, identifiers — byte for byte, so the statement still
reads as the application sent it.

Replaced by ``?``:

* quoted strings, ``'...'`` and ``"..."``, with backslash escapes and doubled quotes
  (``"..."`` is a string in MySQL's default SQL mode); an unterminated string to the end;
* numbers: integers, decimals, exponents, ``0x..`` and ``0b..`` — but not digits inside an
  identifier (``t1``, ``col_2``, ``2fa_codes``) or a backquoted name;
* hex and bit strings ``X'..'``, ``B'..'`` and national strings ``N'..'``, prefix included.

Kept as written: comments (``-- ``, ``#``, ``/* */``), backquoted identifiers, keywords such as
``NULL`` and ``TRUE``, placeholders, user variables, and a charset introducer before a string
(``_utf8mb4'x'`` becomes ``_utf8mb4?``).

>>> mask_literals("SELECT * FROM t1 WHERE name = 'O''Brien' AND id IN (1, 2.5, -3e2)")
'SELECT * FROM t1 WHERE name = ? AND id IN (?, ?, -?)'
>>> mask_literals("select col_2 from `2024_logs` where h = 0xFF /* keep 42 */ limit 10")
'select col_2 from `2024_logs` where h = ? /* keep 42 */ limit ?'
>>> mask_literals("UPDATE users SET bio = 'It\\'s 서울' -- note 7\nWHERE id=9")
'UPDATE users SET bio = ? -- note 7\nWHERE id=?'

Pure: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

__all__ = ["MASK", "RAW_TEXT_MASKED", "STRING_PREFIXES", "is_word", "mask_capture",
           "mask_digest", "mask_literals", "mask_message", "mask_plan",
           "mask_plan_and_findings", "mask_plan_document", "quoted_name_end", "string_end",
           "word_end"]

MASK = "?"
_DIGITS = "0123456789"
_HEX = "0123456789abcdefABCDEF"
STRING_PREFIXES = {"x", "b", "n"}  # X'0A', B'01', N'text': the prefix is part of the literal


def is_word(ch: str) -> bool:
    """Identifier characters: ASCII letters, digits, ``_``, ``$`` and anything non-ASCII."""
    return ch.isalnum() or ch in "_$" or ord(ch) >= 128


def word_end(text: str, i: int) -> int:
    """Index just past the identifier characters from ``i`` on."""
    n = len(text)
    while i < n and is_word(text[i]):
        i += 1
    return i


def quoted_name_end(text: str, start: int) -> int:
    """Index just past the `name` opened by the backtick at ``start`` (`` inside a name
    stays in it; unclosed: the end)."""
    n = len(text)
    end = text.find("`", start + 1)
    while end != -1 and end + 1 < n and text[end + 1] == "`":  # `` inside a name
        end = text.find("`", end + 2)
    return n if end == -1 else end + 1


def string_end(sql: str, start: int) -> int:
    """Index just past the string opened by the quote at ``start`` (or len(sql) if unclosed)."""
    quote = sql[start]
    i = start + 1
    n = len(sql)
    while i < n:
        ch = sql[i]
        if ch == "\\":
            i += 2
        elif ch == quote:
            if i + 1 < n and sql[i + 1] == quote:  # '' inside '...'
                i += 2
            else:
                return i + 1
        else:
            i += 1
    return n


def _number_end(sql: str, start: int) -> int:
    """Index just past the number starting at ``start`` (a digit, or a dot before a digit)."""
    n = len(sql)
    if sql.startswith(("0x", "0X"), start) and start + 2 < n and sql[start + 2] in _HEX:
        i = start + 2
        while i < n and sql[i] in _HEX:
            i += 1
        return i
    if sql.startswith(("0b", "0B"), start) and start + 2 < n and sql[start + 2] in "01":
        i = start + 2
        while i < n and sql[i] in "01":
            i += 1
        return i
    i = start
    while i < n and sql[i] in _DIGITS:
        i += 1
    if i < n and sql[i] == "." and (i + 1 >= n or not is_word(sql[i + 1])
                                    or sql[i + 1] in _DIGITS or _exponent_end(sql, i + 1)):
        i += 1
        while i < n and sql[i] in _DIGITS:
            i += 1
    return _exponent_end(sql, i) or i


def _exponent_end(sql: str, i: int) -> int:
    """Index just past an exponent (``e3``, ``E-12``) starting at ``i``; 0 when there is none."""
    n = len(sql)
    if i >= n or sql[i] not in "eE":
        return 0
    j = i + 1
    if j < n and sql[j] in "+-":
        j += 1
    if j >= n or sql[j] not in _DIGITS:
        return 0
    while j < n and sql[j] in _DIGITS:
        j += 1
    return j


def mask_literals(sql: str) -> str:
    """Return ``sql`` with every string, number and hex literal replaced by ``?``.

    >>> mask_literals('SELECT "a""b", x\\'0aff\\', b\\'01\\', N\\'이름\\', _utf8mb4\\'z\\'')
    'SELECT ?, ?, ?, ?, _utf8mb4?'
    >>> mask_literals("SELECT a.b, .5, 1.e3, t.1x FROM d1.t2 # 3 rows\\n")
    'SELECT a.b, ?, ?, t.1x FROM d1.t2 # 3 rows\\n'
    >>> mask_literals("WHERE s = 'unterminated")
    'WHERE s = ?'
    """
    out: list[str] = []
    n = len(sql)
    i = 0
    while i < n:
        ch = sql[i]
        if ch in "'\"":
            out.append(MASK)
            i = string_end(sql, i)
        elif ch == "`":
            end = quoted_name_end(sql, i)
            out.append(sql[i:end])
            i = end
        elif ch == "#" or (sql.startswith("--", i) and (i + 2 >= n or sql[i + 2] in " \t\r\n")):
            end = sql.find("\n", i)
            end = n if end == -1 else end
            out.append(sql[i:end])
            i = end
        elif sql.startswith("/*", i):
            end = sql.find("*/", i + 2)
            end = n if end == -1 else end + 2
            out.append(sql[i:end])
            i = end
        elif ch in _DIGITS or (ch == "." and i + 1 < n and sql[i + 1] in _DIGITS
                               and (i == 0 or not is_word(sql[i - 1]))):
            end = _number_end(sql, i)
            if end < n and is_word(sql[end]):
                # 1col, 2fa_codes, 0xZZ: an identifier that starts with digits
                end = word_end(sql, end)
                out.append(sql[i:end])
            else:
                out.append(MASK)
            i = end
        elif is_word(ch):
            end = word_end(sql, i + 1)
            word = sql[i:end]
            if end < n and sql[end] == "'" and word.lower() in STRING_PREFIXES:
                out.append(MASK)
                i = string_end(sql, end)
            else:
                out.append(word)
                i = end
        else:
            out.append(ch)
            i += 1
    return "".join(out)


# Plan fields that can quote the statement's values: the TREE line, index lookups and ranges
# ("over (10 < id)"), sort keys (ORDER BY FIELD(s, 'a', 'b')), limits, refs.
_VALUE_KEYS = frozenset({"text", "lookup", "ref", "detail", "sort_key", "filesort_key",
                         "limit", "windows"})


def _holds_values(key: str) -> bool:
    """Plan fields that can quote the statement's values (TREE line text, lookups, filters)."""
    return key in _VALUE_KEYS or key.endswith(("condition", "filter"))


def _mask_value(value: Any) -> Any:
    """Strings masked inside a (small, plan-sized) value: a string, a list or an object."""
    if isinstance(value, str):
        return mask_literals(value)
    if isinstance(value, list):
        return [_mask_value(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _mask_value(v) for k, v in value.items()}
    return value


def mask_plan(node: dict) -> dict:
    """A copy of a plan node tree (the API NODE shape) with literals masked in its conditions.

    Plans carry the statement's values in attached conditions (``o.email = 'x@y.z'``); the UI
    shows them masked unless the user asks, like example statements.

    >>> mask_plan({"condition": "o.id <= 10", "children": [{"condition": None,
    ...            "extra": {"ref": "const", "rows_note": 5}, "children": []}]})
    {'condition': 'o.id <= ?', 'children': [{'condition': None, 'extra': {'ref': 'const', \
'rows_note': 5}, 'children': []}]}
    """
    masked = dict(node)
    for key in ("condition", "operation"):  # an unrecognised TREE line is all operation
        if isinstance(masked.get(key), str):
            masked[key] = mask_literals(masked[key])
    if isinstance(masked.get("extra"), dict):
        masked["extra"] = {k: _mask_value(v) if _holds_values(k) else v
                           for k, v in masked["extra"].items()}
    masked["children"] = [mask_plan(child) for child in node.get("children") or []]
    return masked


def mask_plan_and_findings(root: dict | None,
                           findings: list[dict]) -> tuple[dict | None, list[dict]]:
    """The plan tree and its findings as the UI shows them while literals are hidden.

    Findings quote conditions (``p.category = 'books'``), so they are worded again from the
    masked tree rather than masked as prose (which would hide row counts too).
    """
    if not root:
        return root, list(findings)
    from analysis.findings import find_problems
    from analysis.plan import PlanNode

    masked = mask_plan(root)
    return masked, [f.to_dict() for f in find_problems(PlanNode.from_dict(masked))]


# ---- whole documents, as every page and API answer shows them while literals are hidden ----
RAW_TEXT_MASKED = ("masked: the raw EXPLAIN output quotes the statement's values; ask for "
                   "literals to see it")
# MySQL's parse errors quote the rest of the statement: "... near 'x@y.z' AND id=5' at line 1"
# (the quote is not escaped, so it runs to the last "' at line").
_NEAR = re.compile(r"near '.*' at line (\d+)", re.DOTALL)
# Our parsers' messages quote an excerpt as a Python repr: "got '-> Filter: (a = 5)'".
_GOT = re.compile(r"""\b(got|in) ('(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")""", re.DOTALL)


def mask_message(text: str | None) -> str | None:
    """An error message with the statement values it may quote masked, the rest as written.

    Stored reasons (why a statement has no plan, why a plan could not be read) come from
    the server or the parsers and can quote the statement. Only the quoted parts are masked,
    so error codes, line numbers and wording stay readable.

    >>> mask_message("1064: You have an error in your SQL syntax; check the manual ... near "
    ...              "'a@b.c' AND id = 5' at line 1")
    '1064: You have an error in your SQL syntax; check the manual ... near ? at line 1'
    >>> mask_message("line 2: expected '-> <operation>', got '-> Filter: (t.a = 42)'")
    "line 2: expected '-> <operation>', got '-> Filter: (t.a = ?)'"
    """
    if not text:
        return text
    text = _NEAR.sub(lambda m: f"near {MASK} at line {m.group(1)}", text)
    return _GOT.sub(lambda m: f"{m.group(1)} {m.group(2)[0]}{mask_literals(m.group(2)[1:-1])}"
                              f"{m.group(2)[0]}", text)


def mask_digest(digest: Mapping[str, Any]) -> dict[str, Any]:
    """A digest with its example statements masked (the fingerprint holds no literals)."""
    masked = dict(digest)
    examples = digest.get("examples")
    if isinstance(examples, list):
        masked["examples"] = [
            {**e, "sql": mask_literals(e["sql"])} if isinstance(e, Mapping)
            and isinstance(e.get("sql"), str) else e
            for e in examples]
    return masked


def mask_capture(capture: Mapping[str, Any]) -> dict[str, Any]:
    """A captured statement with its text masked, and the reason it has no plan."""
    masked = dict(capture)
    if isinstance(capture.get("sql_text"), str):
        masked["sql_text"] = mask_literals(capture["sql_text"])
    if isinstance(capture.get("plan_error"), str):
        masked["plan_error"] = mask_message(capture["plan_error"])
    return masked


def _mask_format(entry: Any) -> Any:
    """One raw EXPLAIN output: hidden (JSON text cannot be masked and stay useful)."""
    if not isinstance(entry, Mapping):
        return entry
    masked = dict(entry)
    if masked.get("text") is not None:
        masked["text"] = None
        masked["note"] = RAW_TEXT_MASKED
    if isinstance(masked.get("error"), str):
        masked["error"] = mask_message(masked["error"])
    return masked


def mask_plan_document(plan: Mapping[str, Any]) -> dict[str, Any]:
    """A stored plan as shown while literals are hidden.

    The explained statement is masked, the tree and its findings are masked together (see
    :func:`mask_plan_and_findings`), the raw outputs are withheld as the Plans page does, and
    stored error messages are masked where they quote the statement.
    """
    masked = dict(plan)
    if isinstance(plan.get("explained_sql"), str):
        masked["explained_sql"] = mask_literals(plan["explained_sql"])
    if isinstance(plan.get("root"), Mapping):
        masked["root"], masked["findings"] = mask_plan_and_findings(
            plan["root"], list(plan.get("findings") or []))
    if isinstance(plan.get("formats"), Mapping):
        masked["formats"] = {name: _mask_format(entry)
                             for name, entry in plan["formats"].items()}
    if isinstance(plan.get("parse_error"), str):
        masked["parse_error"] = mask_message(plan["parse_error"])
    return masked
