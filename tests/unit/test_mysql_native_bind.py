"""``native.bind``: parameters written into the SQL as literals, the way PyMySQL formats
a query (``%s`` marks; ``%%`` is a percent sign only when there are parameters)."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from targetsync_core.adapters.mysql.native import bind, literal


def test_marks_are_replaced_in_order_and_percent_signs_follow_pymysql():
    assert bind("SELECT %s, %s, 'x%%'", [1, "it's"]) == "SELECT 1, 'it''s', 'x%'"
    assert bind("SELECT '100%'", None) == "SELECT '100%'"


@pytest.mark.parametrize("value, text", [
    (None, "NULL"), (True, "1"), (False, "0"), (-2**63, "-9223372036854775808"),
    (Decimal("1E+3"), "1000"), (Decimal("-0.0010"), "-0.0010"), (0.1, "0.1e0"), (1e300, "1e+300"),
    (b"\x00'\\", "X'00275c'"), ("a\\b'", "'a\\b'''"), (dt.date(1000, 1, 2), "'1000-01-02'"),
    (dt.datetime(2024, 2, 29, 1, 2, 3, 4), "'2024-02-29 01:02:03.000004'"), (dt.time(1, 2), "'01:02:00'")])
def test_each_kind_of_value_is_one_literal(value, text):
    assert literal(value) == text


def test_a_value_of_no_known_kind_is_refused():
    with pytest.raises(TypeError, match="no MySQL literal for list"):
        literal([1])
