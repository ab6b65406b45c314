"""Durations read the same everywhere (the examples are the module's doctest)."""

from __future__ import annotations

import doctest

import pytest

import analysis.units
from analysis.units import human_duration


def test_the_documented_examples() -> None:
    assert doctest.testmod(analysis.units).failed == 0


@pytest.mark.parametrize("seconds, text", [
    (None, "—"), (0, "0 s"), (0.0000004, "0.00 ms"), (0.999, "999 ms"), (1, "1.00 s"),
    (60, "1 m 0 s"), (3599.9, "59 m 59 s"), (3600, "1 h 0 m"), (86399, "23 h 59 m"),
    (-2.5, "-2.50 s"),
])
def test_edges(seconds, text) -> None:
    assert human_duration(seconds) == text
