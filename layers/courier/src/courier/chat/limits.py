"""The chat's name rules (room names, subs, display names), apart from the pydantic frames."""

from __future__ import annotations

from typing import Final

# Here rather than in courier.chat.frames: the tokens and the room check need only these, and
# the $connect authorizer would otherwise build every frame model (~0.1 s of cold start).
ROOM_PATTERN: Final = r"^[a-z0-9][a-z0-9_-]{0,63}$"
MAX_SUB_CHARS: Final = 128
MAX_NAME_CHARS: Final = 64
