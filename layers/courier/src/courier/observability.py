"""Logging, metrics and tracing for every function, and masking of personal data in logs."""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics, Tracer

NAMESPACE = "Courier"

logger = Logger(service="courier")
metrics = Metrics(namespace=NAMESPACE, service="courier")
tracer = Tracer(service="courier")


def mask_phone(number: str) -> str:
    """Keep the country code and last two digits: enough to tell numbers apart in logs, no more."""
    digits = number.lstrip("+")
    if len(digits) <= 6:
        return "+" + "*" * len(digits)
    return f"+{digits[:2]}{'*' * (len(digits) - 4)}{digits[-2:]}"
