"""Pages held as typed items, counted column by column with C-level primitives (the fast fold).

`ColumnPage` is what the pager yields when it could type a Query body (`courier.stats.wire`):
the items are objects and each field is read through an attribute path (`status` → `item.status.S`)
by `operator.attrgetter`, so counting a page is a few `map`s and a `Counter` over tuples, with no
Python code per record. The counters here count nothing of a page that holds anything the exact,
record-by-record fold (`tallies`) would read differently; the fold then counts that page's
`records()` the exact way, so both give the same numbers on every page.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from itertools import repeat
from operator import attrgetter, getitem, itemgetter
from typing import Any

# What `lstrip` takes off after an ISO time's minute: seconds and their fraction.
SECONDS = ".0123456789"
TEXT_OR_NONE = frozenset({str, type(None)})
_TO_MINUTE = slice(0, 17)  # `2026-11-24T15:04:` (the ':' kept, to check the shape)
_AFTER_MINUTE = slice(19, None)  # `.123+00:00`: the fraction, then the offset
_BEFORE = itemgetter(0)
_SMS_COLUMNS = frozenset({"status", "parts", "priority", "reason", "sk_time"})
_CHECKED_HELD = 8_192  # minutes remembered as well-shaped (a day has 1,440)
_COMBO_FIELDS = ("status", "parts", "priority", "reason")
# How the status store writes an `sk_time` (`_iso`: UTC, milliseconds) up to its `#`, each digit
# read as 0; `_OFFSET_DIGITS` must really be 0 (`+00:00`).
_UTC_HEAD = b"0000-00-00T00:00:00.000+00:00#"
_OFFSET_DIGITS = (24, 25, 27, 28)
_UTC_OFFSET = "+00:00"
_HEAD = slice(0, len(_UTC_HEAD))
_MINUTE = slice(0, 16)  # `2026-11-24T15:04`
_DIGITS_AS_ZERO = bytes.maketrans(b"123456789", b"000000000")
_DIGIT_VALUES = bytes.maketrans(b"0123456789", bytes(range(10)))
# Head positions: the year, month and tens of the day (one per page for hour codes); the units of
# the day, the hour's digits and the minute's tens.
_PAGE_PREFIX = (0, 1, 2, 3, 5, 6, 8)
_DAY_UNITS, _HOUR_TENS, _HOUR_UNITS, _MINUTE_TENS = 9, 11, 12, 14
_HOURS = bytes(range(24))
_MINUTE_TENS_DIGITS = b"012345"


class ColumnPage:
    """A page of records held as objects, each field read through an attribute path (a value of
    None: the record has no such attribute)."""

    __slots__ = ("_items", "_paths")

    def __init__(self, items: Sequence[Any], paths: Mapping[str, str]) -> None:
        self._items = items
        self._paths = dict(paths)

    def __len__(self) -> int:
        return len(self._items)

    @property
    def fields(self) -> frozenset[str]:
        return frozenset(self._paths)

    def column(self, field: str) -> Iterator[Any]:
        """Each record's value of `field`, in order (None where absent)."""
        if field not in self._paths:
            return repeat(None, len(self._items))
        return map(attrgetter(self._paths[field]), self._items)

    def rows(self, fields: Sequence[str]) -> Iterator[tuple[Any, ...]]:
        """Each record's values of two or more `fields` (all held by the page), as a tuple."""
        return map(attrgetter(*(self._paths[field] for field in fields)), self._items)

    def records(self) -> list[dict[str, Any]]:
        """The page as plain records (only the attributes present), for the exact fold."""
        names = tuple(self._paths)
        read = attrgetter(*self._paths.values())
        return [
            {
                name: value
                for name, value in zip(names, read(item), strict=True)
                if value is not None
            }
            for item in self._items
        ]


class SmsColumnCounter:
    """The SMS fold's counting of `ColumnPage`s, held across pages: raw combos and hour keys.

    Combos are (status, parts, priority, reason) tuples as the records hold them, counted per page
    by a C-level `Counter`; only a page's combos not seen before are checked (in Python) for types
    the exact fold reads the same way. Hours, the first way that takes the page:

    1. every `sk_time` starts as the status store writes it (`_UTC_HEAD`: UTC, milliseconds;
       checked in bulk) and the page shares year, month and tens of the day: by UTC hour, with no
       object per record (`_count_utc_hours`), when `hour_of`'s zone keeps those hours whole;
    2. the same shape otherwise (a 30-minute offset, a DST change within an hour, a page across
       a month): by minute (`2026-11-24T15:04`, one slice per record);
    3. any other time: by (minute, offset) pairs, each minute checked once for the shape the key
       cuts (`_checked` remembers the good ones).

    All become `tallies._hour_key` texts only in `take_hour_keys`.
    """

    def __init__(self, hour_of: Callable[[str], int]) -> None:
        self._hour_of = hour_of
        self._combos: Counter[tuple[Any, Any, Any, Any]] = Counter()
        self._readable: set[tuple[Any, Any, Any, Any]] = set()
        self._utc_hours: dict[str, Counter[int]] = {}
        self._steady: dict[str, set[int]] = {}  # hour codes known to be whole in the zone
        self._minutes: Counter[str] = Counter()
        self._pairs: Counter[tuple[str, str]] = Counter()
        self._checked: set[str] = set()

    def __len__(self) -> int:
        """The hour keys held (what `take_hour_keys` would turn into texts)."""
        hours = sum(map(len, self._utc_hours.values()))
        return hours + len(self._minutes) + len(self._pairs)

    def count(self, page: ColumnPage) -> bool:
        """Count `page`, or count nothing of it and return False (to count it record by record).

        Hours come from `sk_time` only: a page holding `created_at` (which the exact fold reads
        first) is left to the exact fold.
        """
        if "created_at" in page.fields or not page.fields >= _SMS_COLUMNS:
            return False
        counted = Counter(page.rows(_COMBO_FIELDS))
        new = counted.keys() - self._readable
        if new and not all(map(_readable_combo, new)):
            return False
        heads = _utc_heads(page.column("sk_time"), len(page))
        if heads is None or not self._count_utc_hours(heads, len(page)):
            times = list(page.column("sk_time"))
            if heads is not None:
                self._minutes.update(map(getitem, times, repeat(_MINUTE)))
            elif not self._count_pairs(times):
                return False
        self._readable |= new
        self._combos.update(counted)
        return True

    def _count_utc_hours(self, heads: bytes, count: int) -> bool:
        """Count a page of `_utc_heads` by UTC hour if its heads share the year, month and tens of
        the day and the zone's hour is the same all through each of its UTC hours (whole-hour
        offsets), else count nothing (the caller counts by minute).

        No object per record: each digit position is a strided slice of `heads`, and the hour
        code `24 * (units of the day) + hour` (0-239: one byte) is computed for all records at once
        with integer arithmetic on those bytes, as lanes that cannot carry into each other.
        """
        width = len(_UTC_HEAD)
        if any(heads[at::width] != heads[at : at + 1] * count for at in _PAGE_PREFIX):
            return False
        # An hour over 23 or a minute over 59: the exact fold reads it (and fails) on its own.
        if heads[_MINUTE_TENS::width].translate(None, _MINUTE_TENS_DIGITS):
            return False
        hours = _lanes(heads, _HOUR_TENS, count) * 10 + _lanes(heads, _HOUR_UNITS, count)
        if hours.to_bytes(count, "big").translate(None, _HOURS):
            return False
        codes = (_lanes(heads, _DAY_UNITS, count) * 24 + hours).to_bytes(count, "big")
        prefix = heads[:9].decode()  # `2026-11-2`
        steady = self._steady.setdefault(prefix, set())
        present = set(codes)
        new = present - steady
        if new and not all(self._steady_hour(prefix, code) for code in new):
            return False
        steady |= new
        if len(self._steady) > _CHECKED_HELD:
            self._steady.clear()
        held = self._utc_hours.setdefault(prefix, Counter())
        for code in present:  # at most 240 (a day's pages: 24 or so): faster than a Counter
            held[code] += codes.count(code)
        return True

    def _steady_hour(self, prefix: str, code: int) -> bool:
        """Whether every minute of the UTC hour `code` of `prefix` is in the same hour of the zone
        (False too for a date that does not exist: the exact fold reads those)."""
        hour = _hour_text(prefix, code)
        try:
            return (
                len({self._hour_of(f"{hour}:{minute:02d}{_UTC_OFFSET}") for minute in range(60)})
                == 1
            )
        except ValueError:
            return False

    def _count_pairs(self, times: list[Any]) -> bool:
        """Count `times` by (minute, offset) pairs, or count nothing if one is cut differently."""
        try:
            created: list[str] = list(map(_BEFORE, map(str.partition, times, repeat("#"))))
        except TypeError:  # a time that is not text
            return False
        minutes: list[str] = list(map(getitem, created, repeat(_TO_MINUTE)))
        rests: Iterator[str] = map(getitem, created, repeat(_AFTER_MINUTE))
        offsets = list(map(str.lstrip, rests, repeat(SECONDS)))
        # An empty rest: a time of 17-18 characters, or one without an offset: the exact way.
        if "" in offsets:
            return False
        new = set(minutes) - self._checked
        if any(len(m) != 17 or m[10] != "T" or m[16] != ":" for m in new):
            return False
        if len(self._checked) > _CHECKED_HELD:
            self._checked.clear()
        self._checked |= new
        self._pairs.update(zip(minutes, offsets, strict=True))
        return True

    def take_combos(self) -> dict[tuple[Any, int, Any, Any], int]:
        """The combos counted so far (status, parts as int, priority, reason → records), then
        forgotten."""
        combos: dict[tuple[Any, int, Any, Any], int] = {}
        for (status, parts, priority, reason), count in self._combos.items():
            combo = (status, int(parts or 0), priority, reason)
            combos[combo] = combos.get(combo, 0) + count
        self._combos.clear()
        return combos

    def take_hour_keys(self) -> dict[str, int]:
        """The hour keys counted so far → records (then forgotten)."""
        keys: dict[str, int] = {}
        for prefix, counted in self._utc_hours.items():
            for code, count in counted.items():
                # Any minute of the hour stands for all of them (`_steady_hour`).
                key = f"{_hour_text(prefix, code)}:00{_UTC_OFFSET}"
                keys[key] = keys.get(key, 0) + count
        for minute, count in self._minutes.items():
            key = minute + _UTC_OFFSET
            keys[key] = keys.get(key, 0) + count
        for (minute, offset), count in self._pairs.items():
            key = minute[:16] + offset
            keys[key] = keys.get(key, 0) + count
        self._utc_hours.clear()
        self._minutes.clear()
        self._pairs.clear()
        return keys


def _utc_heads(times: Iterator[Any], count: int) -> bytes | None:
    """The first `len(_UTC_HEAD)` characters of every time, joined, if each is shaped as the
    status store writes them (`_UTC_HEAD`), else None.

    Checked in bulk: digits where digits are and every separator in place (one translate and one
    compare; a short or non-ASCII head changes the length), the offset's digits all 0 (strided
    slices). Such a time's hour key is its minute and `+00:00` (no `#` before the one at the end).
    """
    try:
        heads = "".join(map(getitem, times, repeat(_HEAD))).encode()
    except (TypeError, UnicodeError):  # a time that is not text
        return None
    if heads.translate(_DIGITS_AS_ZERO) != _UTC_HEAD * count:
        return None
    zeros = b"0" * count
    if any(heads[at :: len(_UTC_HEAD)] != zeros for at in _OFFSET_DIGITS):
        return None
    return heads


def _lanes(heads: bytes, at: int, count: int) -> int:
    """The digits at position `at` of every head as one integer, one byte (0-9) per record."""
    return int.from_bytes(heads[at :: len(_UTC_HEAD)].translate(_DIGIT_VALUES), "big")


def _hour_text(prefix: str, code: int) -> str:
    """`2026-11-2` and the code of the 24th's 15:00 → `2026-11-24T15`."""
    return f"{prefix}{code // 24}T{code % 24:02d}"


def _readable_combo(combo: tuple[Any, Any, Any, Any]) -> bool:
    """Whether the exact fold reads a raw combo as `take_combos` does: text or nothing for
    status, priority and reason (`Decimal("1")` and `Decimal("1.0")` are equal keys but not equal
    texts), a whole number or nothing for parts."""
    status, parts, priority, reason = combo
    return (
        type(status) in TEXT_OR_NONE
        and type(priority) in TEXT_OR_NONE
        and type(reason) in TEXT_OR_NONE
        and type(parts) in (int, type(None))
    )


def count_chat_columns(page: ColumnPage) -> tuple[Counter[Any], set[Any]] | None:
    """Messages per raw room value and the raw senders of `page`, or None to count it record by
    record (a value that is not text)."""
    rooms = Counter(page.column("room"))
    senders = set(page.column("sender_sub"))
    if any(type(room) not in TEXT_OR_NONE for room in rooms):
        return None
    if any(type(sender) not in TEXT_OR_NONE for sender in senders):
        return None
    return rooms, senders
