"""What an admin action changed: the before and after its audit entry records."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Change:
    """The state before and after an admin action (None: nothing there)."""

    before: dict[str, Any] | None
    after: dict[str, Any] | None
