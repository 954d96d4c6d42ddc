"""The one room-access rule: which rooms a token's grants (names or patterns) open."""

from __future__ import annotations

import re
from collections.abc import Sequence
from fnmatch import fnmatchcase

from courier.chat.limits import ROOM_PATTERN


def grants_every_room(grant: str) -> bool:
    """Whether a grant is wildcards only (`*`, `*?`...): it opens every room, or nearly."""
    return "*" in grant and not grant.strip("*?")


def may_access(grants: Sequence[str], room: str) -> bool:
    """True when a grant (a room name or an fnmatch pattern such as `team-*`) matches `room`.

    Case-sensitive, and never for a string that is not a valid room name. Kept apart from the
    token code so the channel function checks rooms without importing PyJWT (~0.1 s).
    """
    if not re.fullmatch(ROOM_PATTERN, room):
        return False
    return any(fnmatchcase(room, grant) for grant in grants)
