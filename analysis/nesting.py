"""How deep and how big untrusted JSON is, measured without recursion.

``json.loads`` recurses once per nested array or object, and so do the plan builder and the
JSON encoder: a request body of ``[[[[...`` 100,000 levels deep would end in RecursionError (a
500) or worse. These helpers measure depth and size with loops and regular expressions, so a
caller can refuse such input *before* anything recursive touches it.

>>> json_text_depth('{"a": [1, {"b": "]]]]"}]}')
3
>>> value_depth({"a": [1, {"b": 2}]}, limit=10)
3
>>> json_size({"a": [1, "xy"]}, limit=1000)
14

Pure: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from itertools import accumulate
from typing import Any

__all__ = ["json_size", "json_text_depth", "value_depth"]

# A JSON string: quote, then runs of ordinary characters and escapes (unrolled, so linear).
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}
_BIG_INT_BITS = 1000  # str() of a longer int is slow (and refused past 4300 digits)


def json_text_depth(text: str) -> int:
    """The deepest nesting of arrays and objects in JSON text (0 for a bare scalar).

    Brackets inside strings do not count. On invalid JSON the count is exact up to the point
    where a JSON parser would stop, which is all a parser could recurse into.
    """
    brackets = _NOT_BRACKET.sub("", _STRING.sub("", text))
    return max(accumulate(map(_STEP.__getitem__, brackets)), default=0)


def _children(value: Any) -> Any:
    if isinstance(value, Mapping):
        return value.values()
    if isinstance(value, (list, tuple)):
        return value
    return None


def value_depth(value: Any, limit: int) -> int:
    """The nesting depth of decoded JSON (as :func:`json_text_depth` counts it).

    Stops as soon as the depth passes ``limit`` and returns that depth, so an absurdly deep
    value costs no more than ``limit`` levels of work per branch.
    """
    deepest = 0
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = _children(item)
        if children is None:
            continue
        deepest = max(deepest, depth)
        if deepest > limit:
            return deepest
        stack.extend((child, depth + 1) for child in children)
    return deepest


def _scalar_size(value: Any) -> int:
    if value is None or isinstance(value, bool):
        return 4 if value in (None, True) else 5
    if isinstance(value, int):
        bits = value.bit_length()
        return len(str(value)) if bits <= _BIG_INT_BITS else bits * 30103 // 100000 + 2
    if isinstance(value, float):
        return len(repr(value))
    return len(str(value))


def json_size(value: Any, limit: int) -> int:
    """About how many characters ``value`` takes as compact JSON, without writing it out.

    Exact for plain JSON except that string escapes are not expanded. Stops once the count
    passes ``limit``, so measuring a huge value costs no more than ``limit`` characters' work.
    """
    size = 0
    stack = [value]
    while stack and size <= limit:
        item = stack.pop()
        if isinstance(item, str):
            size += len(item) + 2
        elif isinstance(item, Mapping):
            size += 2 + max(len(item) - 1, 0)  # braces and commas
            for key, child in item.items():
                size += (len(key) if isinstance(key, str) else _scalar_size(key)) + 3
                stack.append(child)
        elif isinstance(item, (list, tuple)):
            size += 2 + max(len(item) - 1, 0)
            stack.extend(item)
        else:
            size += _scalar_size(item)
    return size
