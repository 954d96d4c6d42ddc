"""Bulk SMS campaigns: a template, an audience from a CSV, a launch in chunks, progress."""
