"""Exact SMS segmentation: GSM-7 (160/153 septets) or UCS-2 (70/67 code units) parts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

# GSM 03.38 default alphabet (one septet each) and its extension table (escape + char: two septets).
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
    # ESC (0x1B) is the escape to the extension table; a raw one is not valid text.
).difference({"\x1b"})
GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")

GSM7_SINGLE, GSM7_MULTI = 160, 153
UCS2_SINGLE, UCS2_MULTI = 70, 67

Encoding = Literal["GSM-7", "UCS-2"]


@dataclass(frozen=True, slots=True)
class Segmentation:
    """How a body is sent: its encoding, its length in units and the number of parts."""

    encoding: Encoding
    units: int
    parts: int


def is_gsm7(text: str) -> bool:
    return all(ch in GSM7_BASIC or ch in GSM7_EXTENSION for ch in text)


def _pack(unit_sizes: list[int], single: int, multi: int) -> int:
    """Count parts, never splitting one character (escape pair or surrogate pair) across two."""
    total = sum(unit_sizes)
    if total <= single:
        return 1 if total else 0
    parts, used = 1, 0
    for size in unit_sizes:
        if used + size > multi:
            parts += 1
            used = 0
        used += size
    return parts


def segment(text: str) -> Segmentation:
    """Encoding, length and part count exactly as a GSM network splits the text."""
    if is_gsm7(text):
        sizes = [2 if ch in GSM7_EXTENSION else 1 for ch in text]
        return Segmentation("GSM-7", sum(sizes), _pack(sizes, GSM7_SINGLE, GSM7_MULTI))
    # UCS-2 on the air is UTF-16: characters outside the BMP (emoji) take two code units.
    sizes = [2 if ord(ch) > 0xFFFF else 1 for ch in text]
    return Segmentation("UCS-2", sum(sizes), _pack(sizes, UCS2_SINGLE, UCS2_MULTI))
