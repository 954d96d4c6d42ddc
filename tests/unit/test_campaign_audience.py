"""Audience CSVs: rows checked one by one (numbers, variables, length), duplicates, opt-outs."""

from __future__ import annotations

import time

import pytest

from courier.campaigns.audience import (
    MAX_AUDIENCE_ROWS,
    AudienceFileError,
    RowStatus,
    read_audience,
)
from courier.campaigns.template import parse_template

TEMPLATE = parse_template("Hi {name}, your code is {code}")


def no_opt_outs(numbers: list[str]) -> set[str]:
    return set()


def test_rows_are_sorted_into_valid_invalid_duplicate_and_opted_out() -> None:
    # Given a CSV with a good row, a bad number, a missing variable, a repeat and an opted-out one
    text = (
        "phone,name,code,unused\n"
        "+821012345678,Kim,1,x\n"
        "+8210123,Lee,2,x\n"
        "+821012345679,,3,x\n"
        "+821012345678,Kim again,4,x\n"
        "+821099998888,Park,5,x\n"
        "+821011112222,Choi,6\n"
    )
    lookups: list[list[str]] = []

    def opted_out(numbers: list[str]) -> set[str]:
        lookups.append(numbers)
        return {"+821099998888"}

    # When it is read against the template
    audience = read_audience(text, TEMPLATE, max_parts=6, opted_out=opted_out)
    by_row = {r.row: r for r in audience.rows}
    # Then each row has its own status and reason
    assert [by_row[i].status for i in range(1, 7)] == [
        RowStatus.VALID,
        RowStatus.INVALID,
        RowStatus.INVALID,
        RowStatus.DUPLICATE,
        RowStatus.OPTED_OUT,
        RowStatus.INVALID,
    ]
    assert by_row[2].error_code == "invalid_phone"
    assert by_row[3].error_code == "missing_variable"
    assert "{name}" in (by_row[3].error or "")
    assert by_row[4].error == "the same number as row 1"
    assert by_row[6].error_code == "field_count"
    # And only the rows still valid were looked up on the opt-out list, in one batch
    assert lookups == [["+821012345678", "+821099998888"]]
    assert audience.counts == {"valid": 1, "invalid": 3, "duplicate": 1, "opted_out": 1}
    assert audience.unused_columns == ["unused"]
    assert audience.summary()["parts_total"] == 1


def test_a_rendered_message_over_max_parts_is_invalid() -> None:
    template = parse_template("{text}")
    text = "phone,text\n+821012345678," + "x" * 400 + "\n+821012345679,short\n"
    audience = read_audience(text, template, max_parts=2, opted_out=no_opt_outs)
    assert [r.status for r in audience.rows] == [RowStatus.INVALID, RowStatus.VALID]
    assert audience.rows[0].error_code == "too_long"
    assert "3 GSM-7 parts" in (audience.rows[0].error or "")


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("", "empty_file"),
        ("name,code\nKim,1\n", "no_phone_column"),
        ("phone,name\n+821012345678,Kim\n", "missing_column"),
        ("phone,name,name,code\n", "repeated_column"),
        ("phone,name,code\n", "no_rows"),
        ('phone,name,code\n"+821012345678,Kim,1\n', "bad_csv"),
    ],
)
def test_file_level_problems_are_reported_with_a_code(text: str, code: str) -> None:
    with pytest.raises(AudienceFileError) as caught:
        read_audience(text, TEMPLATE, max_parts=6, opted_out=no_opt_outs)
    assert caught.value.code == code


def test_more_rows_than_the_limit_are_refused() -> None:
    text = "phone,name,code\n" + "+821012345678,a,b\n" * 4
    with pytest.raises(AudienceFileError) as caught:
        read_audience(text, TEMPLATE, max_parts=6, opted_out=no_opt_outs, max_rows=3)
    assert caught.value.code == "too_many_rows"


def test_a_bom_and_blank_lines_are_tolerated() -> None:
    text = "\ufeffphone,name,code\r\n+821012345678,Kim,1\r\n\r\n"
    audience = read_audience(text, TEMPLATE, max_parts=6, opted_out=no_opt_outs)
    assert [r.status for r in audience.rows] == [RowStatus.VALID]


def test_a_10000_row_file_validates_every_row() -> None:
    # Given 10,000 rows: every 100th a duplicate of the row before, every 250th an invalid number
    lines = ["phone,name,code"]
    expected = {"valid": 0, "invalid": 0, "duplicate": 0, "opted_out": 0}
    for i in range(MAX_AUDIENCE_ROWS):
        if i % 250 == 249:
            lines.append(f"+82101234,Name{i},{i}")
            expected["invalid"] += 1
        elif i % 100 == 99:
            lines.append(f"+8210{20000000 + i - 1},Name{i},{i}")
            expected["duplicate"] += 1
        else:
            lines.append(f"+8210{20000000 + i},Name{i},{i}")
            expected["valid"] += 1
    text = "\n".join(lines) + "\n"
    opted = {f"+8210{20000000 + i}" for i in (0, 1, 2)}
    expected["valid"] -= 3
    expected["opted_out"] = 3
    # When it is read (timed for the report: a figure, not an assertion)
    started = time.perf_counter()
    audience = read_audience(
        text, TEMPLATE, max_parts=6, opted_out=lambda numbers: opted & set(numbers)
    )
    elapsed = time.perf_counter() - started
    print(f"campaign audience: 10000 rows, {len(text.encode())} bytes, {elapsed * 1000:.0f} ms")
    # Then every row is counted where it belongs
    assert len(audience.rows) == MAX_AUDIENCE_ROWS
    assert audience.counts == expected
