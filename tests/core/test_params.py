"""The request-data parsers: ASCII only, bounded to the database's range, dates bounded, JSON depth and size."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal

import pytest
from django.core.exceptions import BadRequest

from kiestudio.core.params import (
    DB_INT_MAX,
    BadJSON,
    BadParameter,
    is_id,
    parse_date,
    parse_decimal,
    parse_id,
    parse_ids,
    parse_int,
    parse_json,
    parse_optional_date,
    parse_optional_id,
    parse_uuid,
)

UNICODE_DIGITS = ["²", "١٢", "١", "๓", "２", "𝟗"]  # each passes str.isdigit(), some even int()


@pytest.mark.parametrize("value", ["1", "42", " 7 ", str(DB_INT_MAX), 9])
def test_ids(value):
    assert parse_id(value) == int(str(value).strip())


@pytest.mark.parametrize(
    "value",
    [*UNICODE_DIGITS, "", None, "0", "-1", "+1", "1.0", "1e3", "0x10", str(DB_INT_MAX + 1), str(2**70), True, "1 2"],
)
def test_not_ids(value):
    with pytest.raises(BadParameter):
        parse_id(value)
    assert not is_id(value)


def test_a_bad_parameter_is_a_bad_request_that_names_the_value():
    with pytest.raises(BadRequest, match="The workspace must be a positive whole number"):
        parse_id("²", name="workspace")


def test_integers_are_bounded_to_64_bits():
    assert parse_int(str(-(2**63))) == -(2**63)
    assert parse_int("-5") == -5
    for value in (str(2**63), str(-(2**63) - 1), str(2**70), "9" * 400, *UNICODE_DIGITS):
        with pytest.raises(BadParameter):
            parse_int(value)
    with pytest.raises(BadParameter):
        parse_int("-1", minimum=0)


def test_lists_of_ids():
    assert parse_ids(["3", "1", "3"]) == [3, 1]
    assert parse_ids([]) == []
    with pytest.raises(BadParameter):
        parse_ids(["1", "²"])
    with pytest.raises(BadParameter):
        parse_ids([str(i) for i in range(1, 10_000)])


def test_optional_ids():
    assert parse_optional_id("") is None and parse_optional_id(None) is None
    assert parse_optional_id("5") == 5
    with pytest.raises(BadParameter):
        parse_optional_id("١٢")


@pytest.mark.parametrize("value", ["2024-02-29", "2000-01-01", "2100-12-31"])
def test_dates(value):
    assert parse_date(value) == date.fromisoformat(value)


@pytest.mark.parametrize(
    "value", ["9999-12-31", "0001-01-01", "1999-12-31", "2101-01-01", "2023-02-29", "２０２４-01-01", "2024-1-1", "x"]
)
def test_not_dates(value):
    with pytest.raises(BadParameter):
        parse_date(value)
    assert parse_optional_date("") is None


def test_decimals_and_uuids():
    assert parse_decimal("12.50") == Decimal("12.50")
    for value in ("١٢", "NaN", "Infinity", "1e999999", "1,000", ""):
        with pytest.raises(BadParameter):
            parse_decimal(value)
    token = uuid.uuid4()
    assert parse_uuid(str(token)) == token
    with pytest.raises(BadParameter):
        parse_uuid("t1")


def test_json_depth_and_size():
    assert parse_json('{"a": [1, {"b": "[[[[[[[["}]}', max_depth=3) == {"a": [1, {"b": "[[[[[[[["}]}
    with pytest.raises(BadJSON, match="nested too deeply"):
        parse_json("[" * 5000)  # json.loads raises RecursionError on this
    with pytest.raises(BadJSON, match="nested too deeply"):
        parse_json("[[[1]]]", max_depth=2)
    with pytest.raises(BadJSON, match="too large"):
        parse_json('"' + "a" * 2000 + '"', max_bytes=1000)
    with pytest.raises(BadJSON):
        parse_json(b"\xff\xfe")
    with pytest.raises(BadJSON):
        parse_json("{'a': 1}")
    assert parse_json(b"", empty={}) == {}
