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
    """The SMS fold's counting of `ColumnPage`s: raw combos per page, hour keys across pages.

    Hour keys are held as (minute, offset) pairs (`2026-11-24T15:04:`, `+00:00`) counted straight
    from C; the pairs become `tallies._hour_key` texts only in `take_hour_keys`. Each page's
    minutes are checked for the shape the key cuts before it is counted (`_checked` remembers the
    good ones, so a minute is looked at once, not once per record).
    """

    def __init__(self) -> None:
        self._pairs: Counter[tuple[str, str]] = Counter()
        self._checked: set[str] = set()

    def __len__(self) -> int:
        return len(self._pairs)

    def count(self, page: ColumnPage) -> dict[tuple[Any, int, Any, Any], int] | None:
        """Count `page`'s hours here and return its raw combos (status, parts as int, priority,
        reason → records), or None, having counted nothing, to count it record by record.

        Hours come from `sk_time` only: a page holding `created_at` (which the exact fold reads
        first) is left to the exact fold.
        """
        if "created_at" in page.fields or not page.fields >= _SMS_COLUMNS:
            return None
        counted = Counter(page.rows(("status", "parts", "priority", "reason")))
        combos: dict[tuple[Any, int, Any, Any], int] = {}
        for (status, parts, priority, reason), count in counted.items():
            if not (type(status) in TEXT_OR_NONE and type(priority) in TEXT_OR_NONE):
                return None
            if type(reason) not in TEXT_OR_NONE or type(parts) not in (int, type(None)):
                return None
            combo = (status, int(parts or 0), priority, reason)
            combos[combo] = combos.get(combo, 0) + count
        try:
            created: list[str] = list(
                map(_BEFORE, map(str.partition, page.column("sk_time"), repeat("#")))
            )
        except TypeError:  # a time that is not text
            return None
        minutes: list[str] = list(map(getitem, created, repeat(_TO_MINUTE)))
        rests: Iterator[str] = map(getitem, created, repeat(_AFTER_MINUTE))
        offsets = list(map(str.lstrip, rests, repeat(SECONDS)))
        # An empty rest: a time of 17-18 characters, or one without an offset: the exact way.
        if "" in offsets:
            return None
        new = set(minutes) - self._checked
        if any(len(m) != 17 or m[10] != "T" or m[16] != ":" for m in new):
            return None
        if len(self._checked) > _CHECKED_HELD:
            self._checked.clear()
        self._checked |= new
        self._pairs.update(zip(minutes, offsets, strict=True))
        return combos

    def take_hour_keys(self) -> dict[str, int]:
        """The hour keys counted so far → records (then forgotten)."""
        keys: dict[str, int] = {}
        for (minute, offset), count in self._pairs.items():
            key = minute[:16] + offset
            keys[key] = keys.get(key, 0) + count
        self._pairs.clear()
        return keys


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
