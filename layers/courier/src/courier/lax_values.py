"""Reads whole numbers and booleans from text or numbers the way pydantic's lax mode does."""

from __future__ import annotations

# The strings pydantic's lax mode reads as booleans (case-insensitive).
TRUE_WORDS = frozenset({"1", "on", "t", "true", "y", "yes"})
FALSE_WORDS = frozenset({"0", "off", "f", "false", "n", "no"})


def whole_number(value: object) -> int:
    """An int from an int, a float without fraction, or their text ("42", " 4.0 ", "1_000")."""
    if isinstance(value, int):
        return int(value)
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            value = float(value)  # "4.0" is 4; "4.5" is refused below
    if isinstance(value, float) and value.is_integer():
        return int(value)
    raise ValueError(f"expected a whole number, got {value!r}")


def boolean(value: object) -> bool:
    """A bool from a bool, 0 or 1, or one of pydantic's words for them."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.lower() in TRUE_WORDS | FALSE_WORDS:
        return value.lower() in TRUE_WORDS
    raise ValueError(f"expected a boolean, got {value!r}")
