"""A campaign's audience from an uploaded CSV: validated row by row, before anything is sent.

The file is a header row with a `phone` column (E.164) and one column per template variable,
then one row per recipient. Each row ends up `valid`, `invalid` (with the reason), `duplicate`
(the same number as an earlier row) or `opted_out` (the number is on the opt-out list, looked
up in batches once the rows are read). Per-row work stays cheap (a regex, one libphonenumber
parse, one render and one segment count) so a 10,000-row file validates well inside an API call.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Final

from courier.campaigns.template import PHONE_COLUMN, MessageTemplate, MissingVariables
from courier.sms.contract import E164_PATTERN, MAX_BODY_CHARS
from courier.sms.numbers import is_valid_number
from courier.sms.segments import segment

MAX_AUDIENCE_ROWS: Final = 10_000
# Under the Lambda request payload (6 MB) even when API Gateway hands the body over base64.
MAX_AUDIENCE_BYTES: Final = 4 * 1024 * 1024
MAX_COLUMNS: Final = 32
MAX_CELL_CHARS: Final = 500
_E164 = re.compile(E164_PATTERN)

# Looks up which of the given numbers are opted out (a batch at a time; see OptOutList).
OptedOutLookup = Callable[[list[str]], set[str]]


class RowStatus(StrEnum):
    VALID = "valid"
    INVALID = "invalid"
    DUPLICATE = "duplicate"
    OPTED_OUT = "opted_out"


class AudienceFileError(ValueError):
    """The file as a whole cannot be read as an audience (no row was checked)."""

    def __init__(self, code: str, message: str) -> None:
        self.code = code
        super().__init__(message)


@dataclass(slots=True)
class AudienceRow:
    """One data row (`row` counts data rows from 1; the header is not a row)."""

    row: int
    phone: str
    variables: dict[str, str]
    status: RowStatus
    error_code: str | None = None
    error: str | None = None
    parts: int = 0
    ucs2: bool = False


@dataclass(slots=True)
class Audience:
    """Every row and what the preview needs about them."""

    rows: list[AudienceRow]
    columns: list[str]
    unused_columns: list[str]
    counts: dict[str, int] = field(default_factory=dict)

    def summary(self) -> dict[str, object]:
        valid = [r for r in self.rows if r.status is RowStatus.VALID]
        return {
            "rows": len(self.rows),
            "counts": dict(self.counts),
            "parts_total": sum(r.parts for r in valid),
            "max_parts": max((r.parts for r in valid), default=0),
            "ucs2_rows": sum(r.ucs2 for r in valid),
            "columns": list(self.columns),
            "unused_columns": list(self.unused_columns),
        }


def _reject(row: AudienceRow, status: RowStatus, code: str, message: str) -> None:
    row.status, row.error_code, row.error = status, code, message


def _check_row(
    row: AudienceRow, template: MessageTemplate, max_parts: int, first_row: dict[str, int]
) -> None:
    if not row.phone:
        return _reject(row, RowStatus.INVALID, "missing_phone", "no phone number")
    if not _E164.fullmatch(row.phone) or not is_valid_number(row.phone):
        return _reject(
            row, RowStatus.INVALID, "invalid_phone", "not a valid E.164 number (e.g. +821012345678)"
        )
    try:
        body = template.render(row.variables)
    except MissingVariables as error:
        return _reject(row, RowStatus.INVALID, "missing_variable", str(error))
    seg = segment(body)
    row.parts, row.ucs2 = seg.parts, seg.encoding == "UCS-2"
    if len(body) > MAX_BODY_CHARS or seg.parts > max_parts:
        return _reject(
            row,
            RowStatus.INVALID,
            "too_long",
            f"the message is {len(body)} characters, {seg.parts} {seg.encoding} parts; "
            f"at most {max_parts} parts",
        )
    earlier = first_row.setdefault(row.phone, row.row)
    if earlier != row.row:
        _reject(row, RowStatus.DUPLICATE, "duplicate", f"the same number as row {earlier}")
    return None


def _read_header(reader: Iterable[list[str]], template: MessageTemplate) -> list[str]:
    header = next(iter(reader), None)
    if header is None:
        raise AudienceFileError("empty_file", "the file is empty: expected a header row")
    columns = [name.strip() for name in header]
    if columns and columns[0].startswith("\ufeff"):
        columns[0] = columns[0][1:]
    if len(columns) > MAX_COLUMNS:
        raise AudienceFileError("too_many_columns", f"at most {MAX_COLUMNS} columns")
    repeated = sorted({c for c in columns if columns.count(c) > 1})
    if repeated:
        raise AudienceFileError("repeated_column", "columns named twice: " + ", ".join(repeated))
    if PHONE_COLUMN not in columns:
        raise AudienceFileError("no_phone_column", f"the header has no '{PHONE_COLUMN}' column")
    missing = [name for name in template.variables if name not in columns]
    if missing:
        raise AudienceFileError(
            "missing_column",
            "the template uses variables the header lacks: " + ", ".join(missing),
        )
    return columns


def read_audience(
    text: str,
    template: MessageTemplate,
    *,
    max_parts: int,
    opted_out: OptedOutLookup,
    max_rows: int = MAX_AUDIENCE_ROWS,
) -> Audience:
    """Validate every row of a CSV document against `template`; file-level problems raise."""
    size = len(text.encode())
    if size > MAX_AUDIENCE_BYTES:
        raise AudienceFileError(
            "file_too_large", f"the file is {size} bytes; at most {MAX_AUDIENCE_BYTES}"
        )
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        columns = _read_header(reader, template)
        phone_at = columns.index(PHONE_COLUMN)
        wanted = [(columns.index(name), name) for name in template.variables]
        rows: list[AudienceRow] = []
        first_row: dict[str, int] = {}
        for fields in reader:
            if not any(cell.strip() for cell in fields):
                continue  # blank lines (a trailing newline, spreadsheets' empty rows)
            if len(rows) >= max_rows:
                raise AudienceFileError("too_many_rows", f"at most {max_rows} recipients a file")
            number = len(rows) + 1
            phone = fields[phone_at].strip() if phone_at < len(fields) else ""
            row = AudienceRow(number, phone, {}, RowStatus.VALID)
            rows.append(row)
            if len(fields) != len(columns):
                _reject(
                    row,
                    RowStatus.INVALID,
                    "field_count",
                    f"{len(fields)} fields; the header has {len(columns)}",
                )
                continue
            if any(len(cell) > MAX_CELL_CHARS for cell in fields):
                _reject(row, RowStatus.INVALID, "cell_too_long", f"a cell over {MAX_CELL_CHARS}")
                continue
            row.variables = {name: fields[at].strip() for at, name in wanted}
            _check_row(row, template, max_parts, first_row)
    except csv.Error as error:
        raise AudienceFileError("bad_csv", f"not a readable CSV file: {error}") from None
    if not rows:
        raise AudienceFileError("no_rows", "the file has a header but no recipients")
    _mark_opted_out(rows, opted_out)
    used = set(template.variables) | {PHONE_COLUMN}
    audience = Audience(rows, columns, [c for c in columns if c not in used])
    audience.counts = {status.value: 0 for status in RowStatus}
    for row in rows:
        audience.counts[row.status.value] += 1
    return audience


def _mark_opted_out(rows: list[AudienceRow], opted_out: OptedOutLookup) -> None:
    valid = [r for r in rows if r.status is RowStatus.VALID]
    if not valid:
        return
    blocked = opted_out([r.phone for r in valid])
    for row in valid:
        if row.phone in blocked:
            _reject(row, RowStatus.OPTED_OUT, "opted_out", "the number has opted out")


def campaign_cost(parts_total: int, price_per_part: Decimal) -> Decimal:
    """The estimated cost of sending every valid row."""
    return price_per_part * parts_total
