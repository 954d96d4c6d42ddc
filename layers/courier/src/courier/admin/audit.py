"""The admin audit log's domain: entries, filters, page cursors, and `record` for every action.

Every admin action calls `AuditLog.record(actor, action, target, before=..., after=...)` once it
has changed something, with the state it changed before and after (small JSON documents: a
summary, never a whole audience file or a full phone number). Entries are appended, never
changed; pages are read newest first with an opaque keyset cursor.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final, Protocol

from pydantic import BaseModel, ConfigDict, Field, field_validator

if TYPE_CHECKING:
    from courier.admin.identity import AdminIdentity

ACTION_PATTERN: Final = r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$"  # e.g. sms.redrive, optout.add
MAX_TARGET_CHARS: Final = 512
# before/after are bounded so one entry's INSERT stays well under 16 KB (a larger statement
# pins an RDS Proxy session): a caller records a summary of what it changed.
MAX_STATE_BYTES: Final = 6000
PAGE_DEFAULT_LIMIT: Final = 50
PAGE_MAX_LIMIT: Final = 200
MAX_CURSOR_CHARS: Final = 64


class AuditEntryTooLarge(ValueError):
    """A before/after document too large for one audit entry (record a summary instead)."""


class BadAuditCursor(ValueError):
    """A cursor that is not one this log handed out."""


class AuditActor(BaseModel):
    """Who acted: the Cognito user's id (stable) and name (readable)."""

    model_config = ConfigDict(frozen=True)

    sub: str = Field(min_length=1, max_length=128)
    username: str = Field(max_length=128)


class NewAuditEntry(BaseModel):
    """An entry to append (the store assigns its id)."""

    model_config = ConfigDict(frozen=True)

    at: datetime = Field(description="When, in UTC (milliseconds kept).")
    actor: AuditActor
    action: str = Field(pattern=ACTION_PATTERN, max_length=64, description="e.g. sms.redrive")
    target: str = Field(default="", max_length=MAX_TARGET_CHARS, description="What it acted on.")
    before: Any = Field(default=None, description="The state before (JSON), if any.")
    after: Any = Field(default=None, description="The state after (JSON), if any.")
    request_id: str = Field(default="", max_length=128)

    @field_validator("at")
    @classmethod
    def _utc_milliseconds(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("at must carry a time zone")
        value = value.astimezone(UTC)
        return value.replace(microsecond=value.microsecond // 1000 * 1000)

    @field_validator("before", "after")
    @classmethod
    def _bounded_json(cls, value: Any) -> Any:
        if value is None:
            return None
        try:
            size = len(state_json(value).encode())
        except (TypeError, ValueError) as error:
            raise ValueError(f"before/after must be JSON: {error}") from None
        if size > MAX_STATE_BYTES:
            raise AuditEntryTooLarge(
                f"a before/after document is {size} bytes; at most {MAX_STATE_BYTES}"
            )
        return value


class AuditEntry(NewAuditEntry):
    """An appended entry."""

    id: int = Field(ge=1)


def state_json(value: Any) -> str:
    """A before/after document as stored: compact JSON with sorted keys."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


@dataclass(frozen=True)
class AuditFilters:
    """What a page shows: one actor (username or sub), one action (or `prefix.*`), a time range."""

    actor: str | None = None
    action: str | None = None
    start: datetime | None = None  # inclusive
    end: datetime | None = None  # exclusive

    def __post_init__(self) -> None:
        for moment in (self.start, self.end):
            if moment is not None and moment.tzinfo is None:
                raise ValueError("from and to must carry a time zone")
        if self.start and self.end and self.start >= self.end:
            raise ValueError("from must be before to")


@dataclass(frozen=True)
class AuditPosition:
    """Where a page ended: the last entry's time and id (the next page starts after it)."""

    at: datetime
    id: int

    def encode(self) -> str:
        millis = int(self.at.timestamp() * 1000)
        return base64.urlsafe_b64encode(f"{millis}:{self.id}".encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, cursor: str) -> AuditPosition:
        if len(cursor) > MAX_CURSOR_CHARS:
            raise BadAuditCursor("the cursor is too long")
        try:
            text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        except (binascii.Error, UnicodeDecodeError, ValueError):
            raise BadAuditCursor("the cursor is not one a page returned") from None
        match = re.fullmatch(r"(\d{1,15}):(\d{1,20})", text)
        if not match:
            raise BadAuditCursor("the cursor is not one a page returned")
        at = datetime.fromtimestamp(int(match[1]) / 1000, tz=UTC)
        return cls(at=at, id=int(match[2]))


@dataclass(frozen=True)
class AuditPage:
    """Entries newest first, and the cursor of the next (older) page, if there is one."""

    entries: list[AuditEntry]
    next_cursor: str | None


class AuditStore(Protocol):
    def append(self, entry: NewAuditEntry) -> AuditEntry: ...

    def page(
        self, filters: AuditFilters, after: AuditPosition | None, limit: int
    ) -> tuple[list[AuditEntry], bool]:
        """Up to `limit` entries after `after`, newest first, and whether more follow."""
        ...


def utc_now() -> datetime:
    return datetime.now(UTC)


class AuditLog:
    """Appends what admins do and reads it back a page at a time."""

    def __init__(self, store: AuditStore, *, clock: Callable[[], datetime] = utc_now) -> None:
        self._store = store
        self._clock = clock

    def record(
        self,
        actor: AdminIdentity | AuditActor,
        action: str,
        target: str = "",
        *,
        before: Any = None,
        after: Any = None,
        request_id: str = "",
    ) -> AuditEntry:
        """Append one entry for an action `actor` took now; the stored entry (with its id)."""
        who = (
            actor
            if isinstance(actor, AuditActor)
            else AuditActor(sub=actor.sub, username=actor.username)
        )
        entry = NewAuditEntry(
            at=self._clock(),
            actor=who,
            action=action,
            target=target,
            before=before,
            after=after,
            request_id=request_id,
        )
        return self._store.append(entry)

    def page(
        self,
        filters: AuditFilters | None = None,
        cursor: str | None = None,
        limit: int = PAGE_DEFAULT_LIMIT,
    ) -> AuditPage:
        """A page of entries newest first; pass its `next_cursor` back for the older ones."""
        if not 1 <= limit <= PAGE_MAX_LIMIT:
            raise ValueError(f"limit must be 1 to {PAGE_MAX_LIMIT}")
        after = AuditPosition.decode(cursor) if cursor else None
        entries, more = self._store.page(filters or AuditFilters(), after, limit)
        next_cursor = (
            AuditPosition(at=entries[-1].at, id=entries[-1].id).encode()
            if more and entries
            else None
        )
        return AuditPage(entries=entries, next_cursor=next_cursor)
