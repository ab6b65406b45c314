r"""Mask the values in a ``SHOW CREATE TABLE``, keeping the table's shape readable.

A case file carries each table's CREATE TABLE so a DBA can see which index was missing, but
the statement holds values too: ``DEFAULT 'pending'``, ``COMMENT 'VIP list: ...'``,
partition bounds ``VALUES LESS THAN (20240101)``, ``ENUM`` members, ``CHECK (amount > 100)``
and ``AUTO_INCREMENT=98765`` (which also tells how many rows were ever inserted). People
write defaults and comments, so they can hold anything a literal can; a case file promises
none, so every quoted string becomes ``?`` and so does every number that is not part of the
schema's shape.

Kept: identifiers (``utf8mb4_0900_ai_ci``, backquoted names), keywords, column types with
their sizes (``varchar(255)``, ``decimal(10,2)``, ``datetime(6)``) and index prefix lengths
(```email`(10)``, written right after the name), because those answer "why is this index
not used". MySQL puts partitions inside version comments (``/*!50100 PARTITION BY ...
*/``): comments are read through, not kept whole, so bounds inside them are masked too.

>>> print(mask_create_table("CREATE TABLE `t` (`id` int(11) NOT NULL AUTO_INCREMENT,\n"
...     "  `state` enum('new','paid') DEFAULT 'new' COMMENT 'ask Bob',\n"
...     "  `amount` decimal(10,2) DEFAULT 0.00, KEY `e` (`state`(4))\n"
...     ") ENGINE=InnoDB AUTO_INCREMENT=98765 DEFAULT CHARSET=utf8mb4"))
CREATE TABLE `t` (`id` int(11) NOT NULL AUTO_INCREMENT,
  `state` enum(?,?) DEFAULT ? COMMENT ?,
  `amount` decimal(10,2) DEFAULT ?, KEY `e` (`state`(4))
) ENGINE=InnoDB AUTO_INCREMENT=? DEFAULT CHARSET=utf8mb4
>>> print(mask_create_table("/*!50100 PARTITION BY RANGE (year(`d`))\n"
...     "(PARTITION p2024 VALUES LESS THAN (2025) ENGINE = InnoDB) */"))
/*!50100 PARTITION BY RANGE (year(`d`))
(PARTITION p2024 VALUES LESS THAN (?) ENGINE = InnoDB) */

Pure: no I/O.
"""

from __future__ import annotations

import re

from analysis.masking import (  # the statement masker's tokens, shared
    MASK,
    STRING_PREFIXES,
    is_word,
    quoted_name_end,
    string_end,
    word_end,
)

__all__ = ["mask_create_table"]

# Words whose parenthesised numbers are a size, not a value: column types, and the
# fractional-seconds precision of CURRENT_TIMESTAMP(6) defaults.
_SIZED = frozenset((
    "tinyint", "smallint", "mediumint", "int", "integer", "bigint", "decimal", "dec",
    "numeric", "fixed", "float", "double", "real", "bit", "char", "varchar", "nchar",
    "nvarchar", "binary", "varbinary", "tinytext", "text", "mediumtext", "longtext",
    "tinyblob", "blob", "mediumblob", "longblob", "time", "datetime", "timestamp", "year",
    "vector", "current_timestamp", "localtime", "localtimestamp", "now",
))
_VERSION_COMMENT = re.compile(r"/\*M?!\d*")  # /*!50100 and MariaDB's /*M!100101: kept whole
_NUMBER = re.compile(r"0[xX][0-9a-fA-F]+|0[bB][01]+|\d+(?:\.\d*)?(?:[eE][+-]?\d+)?"
                     r"|\.\d+(?:[eE][+-]?\d+)?")


def mask_create_table(text: str) -> str:
    """``text`` with every string and every value-number replaced by ``?`` (see above)."""
    out: list[str] = []
    sized: list[bool] = []  # per open parenthesis: are the numbers in it sizes?
    last = ""  # the previous token (not whitespace), lower-cased words and backquoted names
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch.isspace():
            out.append(ch)
            i += 1
            if last == "`":  # `t` (...: a table's or an index's columns, no prefix length
                last = " "
            continue
        if ch in "'\"":
            out.append(MASK)
            i, last = string_end(text, i), MASK
        elif ch == "`":
            end = quoted_name_end(text, i)
            out.append(text[i:end])
            i, last = end, "`"
        elif text.startswith("/*", i):
            match = _VERSION_COMMENT.match(text, i)
            end = match.end() if match else i + 2
            out.append(text[i:end])  # the comment's words are read like the rest
            i, last = end, ""
        elif text.startswith("*/", i):
            out.append("*/")
            i, last = i + 2, ""
        elif ch == "(":
            sized.append(last in _SIZED or last == "`")
            out.append(ch)
            i, last = i + 1, "("
        elif ch == ")":
            if sized:
                sized.pop()
            out.append(ch)
            i, last = i + 1, ")"
        elif ch.isdigit() or (ch == "." and i + 1 < n and text[i + 1].isdigit()):
            match = _NUMBER.match(text, i)
            end = match.end() if match else i + 1
            if end < n and is_word(text[end]):  # 2fa_codes: a name that starts with digits
                end = word_end(text, end)
                out.append(text[i:end])
            else:
                out.append(text[i:end] if sized and sized[-1] else MASK)
            i, last = end, "0"
        elif is_word(ch):
            end = word_end(text, i + 1)
            word = text[i:end]
            if end < n and text[end] == "'" and word.lower() in STRING_PREFIXES:
                out.append(MASK)
                i, last = string_end(text, end), MASK
                continue
            out.append(word)
            i, last = end, word.lower()
        else:
            out.append(ch)
            i, last = i + 1, ch
    return "".join(out)
