"""Turns a pydantic ValidationError into one log-safe line: fields and rules, never values."""

from __future__ import annotations

from pydantic import ValidationError


def describe_problems(error: ValidationError) -> str:
    """`field: rule; field: rule` (pydantic's messages state the rule, not the input)."""
    return "; ".join(
        f"{'.'.join(str(part) for part in e['loc']) or '<root>'}: {e['msg']}"
        for e in error.errors(include_url=False)
    )
