"""Pages held as typed items, counted column by column with C-level primitives (the fast fold).

`ColumnPage` is what the pager yields when it could type a Query body (`courier.stats.wire`):
the items are objects and each field is read through an attribute path (`status` → `item.status.S`)
by `operator.attrgetter`, so counting a page is a few `map`s and a `Counter` over tuples, with no
Python code per record. The counters here return None whenever a page holds anything the exact,
record-by-record fold (`tallies`) would read differently; the fold then counts that page's
`records()` the exact way, so both give the same numbers on every page.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
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
    the exact fold reads the same way. Hours: a page whose every `sk_time` starts the way the
    writer writes it (`_UTC_HEAD`: milliseconds, `+00:00`) is checked in bulk and counted by its
    minute (`2026-11-24T15:04`, one slice per record); any other page by (minute, offset) pairs,
    its minutes checked for the shape the key cuts (`_checked` remembers the good ones, so a
    minute is looked at once, not once per record). Both become `tallies._hour_key` texts only in
    `take_hour_keys`.
    """

    def __init__(self) -> None:
        self._combos: Counter[tuple[Any, Any, Any, Any]] = Counter()
        self._readable: set[tuple[Any, Any, Any, Any]] = set()
        self._minutes: Counter[str] = Counter()
        self._pairs: Counter[tuple[str, str]] = Counter()
        self._checked: set[str] = set()

    def __len__(self) -> int:
        """The hour keys held (what `take_hour_keys` would turn into texts)."""
        return len(self._minutes) + len(self._pairs)

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
        times = list(page.column("sk_time"))
        if not (self._count_utc_minutes(times) or self._count_pairs(times)):
            return False
        self._readable |= new
        self._combos.update(counted)
        return True

    def _count_utc_minutes(self, times: list[Any]) -> bool:
        """Count `times` by minute if each starts as `_UTC_HEAD` says (then its hour key is its
        minute and `+00:00`, the seconds and job id aside), else count nothing."""
        try:
            heads = "".join(map(getitem, times, repeat(_HEAD))).encode()
        except (TypeError, UnicodeError):  # a time that is not text
            return False
        # One C-level pass for the shape (digits where digits are, every separator in place; a
        # short or non-ASCII head changes the length), four strided ones for the offset's digits.
        if heads.translate(_DIGITS_AS_ZERO) != _UTC_HEAD * len(times):
            return False
        zeros = b"0" * len(times)
        if any(heads[at :: len(_UTC_HEAD)] != zeros for at in _OFFSET_DIGITS):
            return False
        self._minutes.update(map(getitem, times, repeat(_MINUTE)))
        return True

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
        for minute, count in self._minutes.items():
            key = minute + _UTC_OFFSET
            keys[key] = keys.get(key, 0) + count
        for (minute, offset), count in self._pairs.items():
            key = minute[:16] + offset
            keys[key] = keys.get(key, 0) + count
        self._minutes.clear()
        self._pairs.clear()
        return keys


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
