"""Turn a captured statement into the one SELECT that is safe to put behind ``EXPLAIN``.

The statements we explain come from slow logs and the processlist, i.e. from strangers. Putting
``EXPLAIN FORMAT=JSON`` in front of arbitrary text is only harmless when that text is exactly
one reading statement, so :func:`explainable_select` either returns such a statement or raises
:class:`NotExplainable` with a reason a user can read:

* ``SELECT``, ``WITH ... SELECT``, ``(SELECT ...) UNION ...`` and ``TABLE t`` pass through
  (leading/trailing comments and a trailing ``;`` removed).
* ``UPDATE`` and ``DELETE`` are converted to the SELECT that reads the same rows, after
  pt-query-digest's ``convert_to_select`` (QueryRewriter), but on tokens instead of regexes so
  that ``SET``, ``WHERE`` or ``;`` inside strings, backticks, comments and subqueries do not cut
  the statement in the wrong place:

  - ``UPDATE t1 JOIN t2 ON ... SET a = 1 WHERE w ORDER BY o LIMIT n`` ->
    ``SELECT * FROM t1 JOIN t2 ON ... WHERE w ORDER BY o LIMIT n``. pt writes
    ``SELECT a = 1 FROM ...`` (the assignments become comparisons in the select list). We select
    ``*`` instead because an UPDATE reads whole rows (it must write new row versions), so a
    covering index that the narrow select list would allow is not what the UPDATE gets; and the
    assignment list is often not valid in a select list (``a = DEFAULT``, ``a = VALUES(a)``).
    pt gives up on ``SET a = (SELECT ...)``; we keep such values, and only those, as extra
    select-list items (``SELECT *, (SELECT ...) FROM ...``) because their subqueries are part
    of the UPDATE's plan.
  - ``DELETE FROM t WHERE ... ORDER BY ... LIMIT n`` -> ``SELECT * FROM t WHERE ...``.
  - ``DELETE t1 FROM t1 JOIN t2 ... WHERE ...`` and ``DELETE FROM t1 USING t1 JOIN t2 ...`` ->
    ``SELECT t1.* FROM t1 JOIN t2 ... WHERE ...``: the deleted tables are read whole, the
    others only as far as the join needs (pt writes ``SELECT 1``, which lets a covering index
    stand in for the deleted table's rows).
  - MariaDB's ``DELETE ... RETURNING`` list is dropped; optimizer hints (``/*+ ... */``) move
    behind the ``SELECT``; ``LOW_PRIORITY``, ``QUICK`` and ``IGNORE`` are dropped.
  - ``WITH cte AS (...) UPDATE/DELETE ...`` keeps the ``WITH`` part in front of the conversion.
* ``INSERT/REPLACE ... SELECT`` -> the SELECT part (without ``ON DUPLICATE KEY UPDATE``).

Refused: more than one statement (a lone trailing ``;`` is fine), anything that already is
``EXPLAIN``/``ANALYZE``/``DESCRIBE`` (never wrapped: ``EXPLAIN ANALYZE`` and MariaDB's
``ANALYZE FORMAT=JSON`` *execute* the statement), DDL, ``SET``, ``CALL``, ``LOAD``, ``LOCK``,
``INSERT ... VALUES``/``SET`` (nothing is read, so there is no plan), and every other statement.

Comments are removed from the result, except optimizer hints (``/*+ ... */``) without quotes
that do not mention ``MAX_EXECUTION_TIME`` or ``SET_VAR`` (which could lift our time limit).
Executable comments (``/*! ... */``, ``/*M! ... */``) are *unwrapped*: their text is analysed
as SQL and kept as plain SQL in the result, so the server runs exactly the text that was
checked. (A version-gated comment is therefore applied whatever the server's version, which can
only make an EXPLAIN fail, never make it unsafe.) The tokenizer assumes the server reads
backslash escapes in strings and ``"`` as a string quote (no ``NO_BACKSLASH_ESCAPES`` or
``ANSI_QUOTES``); :mod:`collectors.explain` sets the session's ``sql_mode`` to match.

Pure: no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from analysis.errors import AnalysisError

__all__ = ["Explainable", "NotExplainable", "explainable_select"]


class NotExplainable(AnalysisError):
    """The text is not one statement that can safely be explained; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Explainable:
    """What to run ``EXPLAIN`` on.

    ``select_sql`` is a single reading statement without a trailing ``;``. ``converted_from``
    is None when the statement was already a SELECT, else ``"update"``, ``"delete"``,
    ``"insert_select"`` or ``"replace_select"``; ``statement`` is the original statement's
    leading keyword in lower case (``"select"``, ``"with"``, ``"update"`` ...).
    """

    select_sql: str
    converted_from: str | None
    statement: str


# ---- tokens ------------------------------------------------------------------------------------
WS, WORD, STRING, QID, PUNCT, HINT, COMMENT = "ws", "word", "string", "qid", "punct", "hint", \
    "comment"


@dataclass(slots=True)
class _Tok:
    kind: str
    text: str
    depth: int = 0  # parenthesis depth the token sits at ("(" and ")" count as outside)

    def word(self) -> str | None:
        """The upper-cased word for keyword tests (None for anything else)."""
        return self.text.upper() if self.kind == WORD else None


def _is_word_char(ch: str) -> bool:
    return ch.isalnum() or ch in "_$" or ord(ch) > 127


def _quoted_end(sql: str, start: int) -> int:
    """Index just past the quoted token starting at ``start`` ('...', "..." or `...`)."""
    quote = sql[start]
    i, n = start + 1, len(sql)
    while i < n:
        ch = sql[i]
        if ch == "\\" and quote != "`":
            i += 2
            continue
        if ch == quote:
            if i + 1 < n and sql[i + 1] == quote:  # doubled quote inside the string
                i += 2
                continue
            return i + 1
        i += 1
    what = "identifier" if quote == "`" else "string"
    raise NotExplainable(f"unterminated quoted {what} starting at offset {start}")


_EXEC_OPEN = re.compile(r"/\*M?!\d{0,6}")
# Optimizer hints are kept (they shape the plan) when they hold no quotes; hints that could lift
# our statement time limit (MAX_EXECUTION_TIME, SET_VAR) are dropped like other comments.
_SAFE_HINT = re.compile(r"/\*\+[^'\"`;\\]*?\*/", re.DOTALL)
_TIME_HINT = re.compile(r"MAX_EXECUTION_TIME|SET_VAR", re.IGNORECASE)
_BLANKS = frozenset(" \t\n\r\f\v")  # the server's whitespace (ASCII only)


def _tokenize(sql: str) -> list[_Tok]:
    """Split ``sql`` into tokens, unwrapping executable comments and marking ordinary ones.

    Comments become COMMENT tokens (dropped when rendering); ``/*+ ... */`` becomes a HINT.
    """
    toks: list[_Tok] = []
    i, n = 0, len(sql)
    in_exec = False
    while i < n:
        ch = sql[i]
        if ch in _BLANKS:
            j = i + 1
            while j < n and sql[j] in _BLANKS:
                j += 1
            toks.append(_Tok(WS, sql[i:j]))
            i = j
        elif ch in "'\"`":
            j = _quoted_end(sql, i)
            toks.append(_Tok(QID if ch == "`" else STRING, sql[i:j]))
            i = j
        elif ch == "#" or (sql.startswith("--", i) and (i + 2 >= n or sql[i + 2] in _BLANKS
                                                        or ord(sql[i + 2]) < 32)):
            j = sql.find("\n", i)
            j = n if j < 0 else j
            toks.append(_Tok(COMMENT, sql[i:j]))
            i = j
        elif sql.startswith("/*", i):
            exec_open = _EXEC_OPEN.match(sql, i)
            if exec_open:
                if in_exec:
                    raise NotExplainable("nested executable comments are not supported")
                in_exec = True
                toks.append(_Tok(WS, " "))
                i = exec_open.end()
                continue
            end = sql.find("*/", i + 2)
            if end < 0:
                raise NotExplainable(f"unterminated /* comment starting at offset {i}")
            text = sql[i:end + 2]
            safe_hint = (text.startswith("/*+") and _SAFE_HINT.fullmatch(text)
                         and not _TIME_HINT.search(text))
            toks.append(_Tok(HINT if safe_hint else COMMENT, text))
            i = end + 2
        elif in_exec and sql.startswith("*/", i):
            in_exec = False
            toks.append(_Tok(WS, " "))
            i += 2
        elif _is_word_char(ch):
            j = i + 1
            while j < n and _is_word_char(sql[j]):
                j += 1
            toks.append(_Tok(WORD, sql[i:j]))
            i = j
        else:
            toks.append(_Tok(PUNCT, ch))
            i += 1
    if in_exec:
        raise NotExplainable("unterminated executable comment (/*! without */)")
    depth = 0
    for tok in toks:
        if tok.kind == PUNCT and tok.text == ")":
            depth -= 1
            if depth < 0:
                raise NotExplainable("unbalanced parentheses: ')' without '('")
        tok.depth = depth
        if tok.kind == PUNCT and tok.text == "(":
            depth += 1
    if depth:
        raise NotExplainable("unbalanced parentheses: '(' without ')'")
    return toks


def _render(toks: list[_Tok]) -> str:
    """Text of ``toks``: comments become a space, leading/trailing blanks are trimmed."""
    return "".join(" " if t.kind == COMMENT else t.text for t in toks).strip()


# ---- helpers on the significant token list -------------------------------------------------
class _Stmt:
    """Significant tokens (no whitespace/comments) with keyword search at parenthesis depth 0."""

    def __init__(self, toks: list[_Tok]) -> None:
        self.all = toks
        self.sig = [i for i, t in enumerate(toks) if t.kind not in (WS, COMMENT)]

    def tok(self, k: int) -> _Tok:
        return self.all[self.sig[k]]

    def __len__(self) -> int:
        return len(self.sig)

    def is_kw(self, k: int, *words: str) -> bool:
        """Token ``k`` is one of ``words`` used as a keyword (not ``t.word`` or ``@word``)."""
        if k >= len(self.sig):
            return False
        w = self.tok(k).word()
        if w is None or w not in words:
            return False
        before = self.tok(k - 1).text if k > 0 else ""
        after = self.tok(k + 1).text if k + 1 < len(self.sig) else ""
        return before not in (".", "@") and after != "."

    def find(self, start: int, *words: str, end: int | None = None) -> int | None:
        """First depth-0 keyword among ``words`` in ``[start, end)``."""
        stop = len(self.sig) if end is None else end
        for k in range(start, stop):
            if self.tok(k).depth == 0 and self.is_kw(k, *words):
                return k
        return None

    def find_clause(self, start: int, *clauses: str) -> int | None:
        """First depth-0 clause start: a single keyword, or ``ORDER BY`` / ``ON DUPLICATE``."""
        for k in range(start, len(self.sig)):
            if self.tok(k).depth != 0:
                continue
            for clause in clauses:
                head, _, second = clause.partition(" ")
                if self.is_kw(k, head) and (not second or self.is_kw(k + 1, second)):
                    return k
        return None

    def text(self, start: int, end: int | None = None) -> str:
        """Rendered text of significant tokens ``[start, end)`` and what lies between them."""
        stop = len(self.sig) if end is None else end
        if start >= stop:
            return ""
        return _render(self.all[self.sig[start]:self.sig[stop - 1] + 1])

    def split_commas(self, start: int, end: int) -> list[tuple[int, int]]:
        """Ranges of the depth-0, comma-separated items in ``[start, end)``."""
        items, first = [], start
        for k in range(start, end):
            t = self.tok(k)
            if t.depth == 0 and t.kind == PUNCT and t.text == ",":
                items.append((first, k))
                first = k + 1
        items.append((first, end))
        return items

    def matching_paren(self, k: int) -> int:
        """Index of the ``)`` closing the ``(`` at ``k``."""
        depth = self.tok(k).depth
        for j in range(k + 1, len(self.sig)):
            t = self.tok(j)
            if t.kind == PUNCT and t.text == ")" and t.depth == depth:
                return j
        raise NotExplainable("unbalanced parentheses")  # pragma: no cover - checked earlier

    def first_word_inside(self, k: int) -> str | None:
        """The first word after the ``(`` at ``k`` and any further opening parentheses."""
        j = k
        while j < len(self.sig) and self.tok(j).text == "(":
            j += 1
        return self.tok(j).word() if j < len(self.sig) else None


# ---- classification ----------------------------------------------------------------------------
_PASS = {"SELECT", "TABLE"}
_SELECT_HEADS = {"SELECT", "WITH", "TABLE"}
_NEVER_WRAP = {
    "EXPLAIN": "the text already is an EXPLAIN, and EXPLAIN ANALYZE executes the statement",
    "ANALYZE": "ANALYZE executes the statement (MariaDB ANALYZE FORMAT=JSON) or rebuilds "
               "table statistics (ANALYZE TABLE)",
    "DESCRIBE": "the text already is a DESCRIBE/EXPLAIN",
    "DESC": "the text already is a DESCRIBE/EXPLAIN",
}
_DDL = {"CREATE", "ALTER", "DROP", "TRUNCATE", "RENAME"}
_WHY = {
    "SET": "SET changes server or session state; it has no plan",
    "CALL": "CALL runs a stored procedure; its statements are explained one by one",
    "LOAD": "LOAD DATA/XML writes rows from a file; it has no plan to explain",
    "LOCK": "LOCK TABLES takes locks; it has no plan",
    "UNLOCK": "UNLOCK TABLES releases locks; it has no plan",
    "DO": "DO evaluates expressions for their side effects; it has no plan",
    "VALUES": "a VALUES statement reads no table; there is no plan to explain",
    "HANDLER": "HANDLER reads bypass the optimizer; there is no plan",
}
_INSERT_NO_SELECT = "{kw} ... {form} reads nothing, so there is no plan to explain " \
    "(only INSERT/REPLACE ... SELECT can be explained)"


def explainable_select(sql: str) -> Explainable:
    """The SELECT to run EXPLAIN on for ``sql``; raises :class:`NotExplainable` otherwise."""
    if not isinstance(sql, str):
        raise NotExplainable(f"expected SQL text, got {type(sql).__name__}")
    toks = _tokenize(sql)
    _check_single_statement(toks)
    while toks and (toks[-1].kind in (WS, COMMENT) or toks[-1].text == ";"):
        toks.pop()  # trailing blanks, comments and the lone ";" allowed above
    stmt = _Stmt(toks)
    if not len(stmt):
        raise NotExplainable("empty statement: nothing to explain")
    result = _classify(stmt)
    if result.converted_from is not None:
        check = explainable_select(result.select_sql)  # the conversion must pass through
        if check.converted_from is not None:  # pragma: no cover - defensive
            raise NotExplainable("conversion did not produce a plain SELECT")
    return result


def _check_single_statement(toks: list[_Tok]) -> None:
    semis = [k for k, t in enumerate(toks) if t.kind == PUNCT and t.text == ";"]
    if not semis:
        return
    after = [t for t in toks[semis[0] + 1:] if t.kind not in (WS, COMMENT)]
    if any(not (t.kind == PUNCT and t.text == ";") for t in after):
        raise NotExplainable("the text holds more than one statement; only one statement can be "
                             "explained")


def _classify(stmt: _Stmt) -> Explainable:
    first = stmt.tok(0)
    head = first.word()
    if first.kind == PUNCT and first.text == "(":
        inner = stmt.first_word_inside(0)
        if inner in ("SELECT", "WITH"):
            return Explainable(stmt.text(0), None, "select")
        raise NotExplainable("a parenthesised statement must be a SELECT to be explained")
    if head is None:
        raise NotExplainable(f"not an SQL statement: it starts with {first.text[:20]!r}")
    if head in _NEVER_WRAP:
        raise NotExplainable(f"{head} statements are never wrapped in EXPLAIN: "
                             f"{_NEVER_WRAP[head]}")
    if head in _PASS:
        return Explainable(stmt.text(0), None, head.lower())
    if head == "WITH":
        return _with(stmt)
    if head == "UPDATE":
        return Explainable(_update(stmt, 0), "update", "update")
    if head == "DELETE":
        return Explainable(_delete(stmt, 0), "delete", "delete")
    if head in ("INSERT", "REPLACE"):
        return _insert(stmt, head)
    if head in _DDL:
        raise NotExplainable(f"{head} is DDL (a schema change); it has no plan to explain")
    if head in _WHY:
        raise NotExplainable(_WHY[head])
    raise NotExplainable(f"{head} statements have no plan EXPLAIN can show (only SELECT, "
                         "UPDATE, DELETE and INSERT/REPLACE ... SELECT are explained)")


def _with(stmt: _Stmt) -> Explainable:
    """``WITH [RECURSIVE] name [(cols)] AS (...) [, ...] <statement>``."""
    k = 1
    if stmt.is_kw(k, "RECURSIVE"):
        k += 1
    while True:
        if k >= len(stmt) or stmt.tok(k).kind not in (WORD, QID):
            raise NotExplainable("WITH must be followed by a common table expression name")
        k += 1
        if k < len(stmt) and stmt.tok(k).text == "(":
            k = stmt.matching_paren(k) + 1
        if not stmt.is_kw(k, "AS") or k + 1 >= len(stmt) or stmt.tok(k + 1).text != "(":
            raise NotExplainable("WITH name must be followed by AS (...)")
        k = stmt.matching_paren(k + 1) + 1
        if k < len(stmt) and stmt.tok(k).text == ",":
            k += 1
            continue
        break
    if k >= len(stmt):
        raise NotExplainable("WITH clause without a statement after it")
    prefix = stmt.text(0, k)
    nxt = stmt.tok(k)
    if nxt.text == "(" or stmt.is_kw(k, *_SELECT_HEADS):
        return Explainable(stmt.text(0), None, "with")
    if stmt.is_kw(k, "UPDATE"):
        return Explainable(f"{prefix} {_update(stmt, k)}", "update", "with")
    if stmt.is_kw(k, "DELETE"):
        return Explainable(f"{prefix} {_delete(stmt, k)}", "delete", "with")
    raise NotExplainable(f"WITH ... {nxt.text.upper()} has no plan EXPLAIN can show")


def _hint_and_modifiers(stmt: _Stmt, k: int, modifiers: tuple[str, ...]) -> tuple[str, int]:
    """Skip a statement keyword's optimizer hint and modifiers; return (hint text, next index)."""
    hint = ""
    if k < len(stmt) and stmt.tok(k).kind == HINT:
        hint = stmt.tok(k).text + " "
        k += 1
    while stmt.is_kw(k, *modifiers):
        k += 1
    return hint, k


def _update(stmt: _Stmt, start: int) -> str:
    """``UPDATE [LOW_PRIORITY] [IGNORE] refs SET assignments [WHERE] [ORDER BY] [LIMIT]``."""
    hint, k = _hint_and_modifiers(stmt, start + 1, ("LOW_PRIORITY", "IGNORE"))
    set_at = stmt.find(k, "SET")
    if set_at is None or set_at == k:
        raise NotExplainable("UPDATE without table and SET clause cannot be converted to a "
                             "SELECT")
    tail = stmt.find_clause(set_at + 1, "WHERE", "ORDER BY", "LIMIT", "RETURNING")
    end_assign = len(stmt) if tail is None else tail
    if end_assign == set_at + 1:
        raise NotExplainable("UPDATE with an empty SET clause")
    extra = []
    for a, b in stmt.split_commas(set_at + 1, end_assign):
        if not any(stmt.is_kw(j, "SELECT") for j in range(a, b)):
            continue
        eq = next((j for j in range(a, b) if stmt.tok(j).depth == 0
                   and stmt.tok(j).text == "="), None)
        if eq is None or eq + 1 >= b:
            raise NotExplainable("could not read an assignment of the UPDATE's SET clause")
        extra.append(stmt.text(eq + 1, b))
    select_list = ", ".join(["*", *extra])
    returning = stmt.find(set_at + 1, "RETURNING")
    rest = stmt.text(tail, returning) if tail is not None else ""
    return _join(f"SELECT {hint}{select_list} FROM", stmt.text(k, set_at), rest)


def _delete(stmt: _Stmt, start: int) -> str:
    """Single-table ``DELETE FROM t ...`` and both multi-table forms."""
    hint, k = _hint_and_modifiers(stmt, start + 1, ("LOW_PRIORITY", "QUICK", "IGNORE"))
    clause = ("WHERE", "ORDER BY", "LIMIT", "RETURNING")
    if stmt.is_kw(k, "FROM"):
        tail = stmt.find_clause(k + 1, *clause)
        using = stmt.find(k + 1, "USING", end=tail)
        if using is not None:  # DELETE FROM t1, t2 USING t1 JOIN t2 ...
            targets, refs = (k + 1, using), (using + 1, len(stmt) if tail is None else tail)
        else:  # DELETE FROM t [AS a] [PARTITION (...)] ...
            targets, refs = None, (k + 1, len(stmt) if tail is None else tail)
    else:  # DELETE t1[.*], t2 FROM t1 JOIN t2 ...
        from_at = stmt.find(k, "FROM")
        if from_at is None:
            raise NotExplainable("DELETE without FROM cannot be converted to a SELECT")
        tail = stmt.find_clause(from_at + 1, *clause)
        targets, refs = (k, from_at), (from_at + 1, len(stmt) if tail is None else tail)
    if refs[0] >= refs[1]:
        raise NotExplainable("DELETE without a table cannot be converted to a SELECT")
    select_list = "*" if targets is None else _target_list(stmt, *targets)
    returning = stmt.find(k, "RETURNING")
    rest = stmt.text(tail, returning) if tail is not None else ""
    return _join(f"SELECT {hint}{select_list} FROM", stmt.text(*refs), rest)


_NAME_PART = (WORD, QID)


def _target_list(stmt: _Stmt, start: int, end: int) -> str:
    """``t1, db.t2.*`` -> ``t1.*, db.t2.*`` (the deleted tables' whole rows)."""
    names = []
    for a, b in stmt.split_commas(start, end):
        parts = [stmt.tok(j) for j in range(a, b)]
        if parts and parts[-1].text == "*":
            if len(parts) < 3 or parts[-2].text != ".":
                raise NotExplainable("could not read the DELETE's list of tables")
            parts = parts[:-2]
        ok = bool(parts) and all(
            (p.kind in _NAME_PART) if i % 2 == 0 else (p.text == ".")
            for i, p in enumerate(parts)) and len(parts) % 2 == 1
        if not ok:
            raise NotExplainable("could not read the DELETE's list of tables")
        names.append("".join(p.text for p in parts) + ".*")
    return ", ".join(names)


def _insert(stmt: _Stmt, head: str) -> Explainable:
    """``INSERT|REPLACE [mods] [INTO] t [PARTITION (...)] [(cols)] SELECT ...`` -> the SELECT."""
    _, k = _hint_and_modifiers(stmt, 1, ("LOW_PRIORITY", "DELAYED", "HIGH_PRIORITY", "IGNORE"))
    if stmt.is_kw(k, "INTO"):
        k += 1
    for j in range(k + 1, len(stmt)):
        t = stmt.tok(j)
        if t.depth != 0:
            continue
        if t.text == "(" and stmt.first_word_inside(j) in ("SELECT", "WITH"):
            break
        if stmt.is_kw(j, *_SELECT_HEADS):
            break
        if stmt.is_kw(j, "VALUES", "VALUE", "SET"):
            raise NotExplainable(_INSERT_NO_SELECT.format(kw=head, form=t.text.upper()))
    else:
        raise NotExplainable(f"could not find the SELECT part of this {head}")
    end = stmt.find_clause(j, "ON DUPLICATE", "RETURNING")
    kind = "insert_select" if head == "INSERT" else "replace_select"
    return Explainable(stmt.text(j, end), kind, head.lower())


def _join(*parts: str) -> str:
    return " ".join(p for p in parts if p)
