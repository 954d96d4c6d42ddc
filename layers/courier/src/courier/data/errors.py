"""What the database layer raises, importable without the driver (domain code catches these)."""

from __future__ import annotations


class DatabaseNotConfigured(RuntimeError):
    """Neither a database URL nor a database host is set for this function."""


class DatabaseUnavailable(RuntimeError):
    """No connection could be opened, even after the retry: worth another attempt later."""


class ReadOnlyViolation(RuntimeError):
    """A statement that writes ran on the reader (a routing bug: writes belong on the writer)."""
