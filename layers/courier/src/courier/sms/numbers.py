"""Whether an E.164-shaped number is a real, assignable number (libphonenumber's metadata)."""

from __future__ import annotations

from functools import cache
from types import ModuleType


@cache
def _phonenumbers() -> ModuleType:
    # Imported on first use: its ~60 ms import would otherwise land on every cold start.
    import phonenumbers

    return phonenumbers


def is_valid_number(e164: str) -> bool:
    """True when the number parses and fits its country's numbering plan."""
    phonenumbers = _phonenumbers()
    try:
        parsed = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return False
    return bool(phonenumbers.is_valid_number(parsed))


def country_code(e164: str) -> str:
    """ISO region (e.g. "KR") of a number, "ZZ" when unknown; for status records and stats."""
    phonenumbers = _phonenumbers()
    try:
        parsed = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return "ZZ"
    return str(phonenumbers.region_code_for_number(parsed) or "ZZ")


def canonical_e164(e164: str) -> str | None:
    """The number in libphonenumber's E.164 form, or None when it does not parse."""
    phonenumbers = _phonenumbers()
    try:
        parsed = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return None
    return str(phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164))
