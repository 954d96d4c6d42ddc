"""Logging, metrics and tracing for every function, and masking of personal data in logs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

NAMESPACE = "Courier"
# Each function logs to a log group of its own, which already names the function (Logs
# Insights shows it as @log); its memory size is in the template. Repeating them on every line
# was ~150 bytes of each SMS job's ~500-byte line, billed per GB ingested. The request id
# and cold_start stay: they tie a line to its invocation.
_PER_GROUP_KEYS = ("function_name", "function_arn", "function_memory_size")


class _LineFormatter(LambdaPowertoolsFormatter):
    """Powertools' JSON lines without the keys the log group already says."""

    def serialize(self, log: Any) -> str:
        for key in _PER_GROUP_KEYS:
            log.pop(key, None)
        return super().serialize(log)


logger = Logger(service="courier", logger_formatter=_LineFormatter())
metrics = Metrics(namespace=NAMESPACE, service="courier")
# Only the libraries the functions call out through: the X-Ray default (patch_all) also imports
# and patches pymysql (with cryptography), requests, sqlite3 and http.client in every function,
# a tenth of a second of cold start, and http.client's patch only nested a second subsegment in
# each AWS call's. The database connections patch pymysql themselves (`trace_library`).
tracer = Tracer(service="courier", patch_modules=("botocore",))


def add_counts(
    counts: Mapping[str, int], names: Mapping[str, str], *, zeros_for: frozenset[str]
) -> None:
    """Each count in `names` (count key -> metric name) as a Count metric of this invocation.

    A zero is published only for the keys in `zeros_for` (an alarm's inputs, which must be
    there every period): each other name costs ~60 bytes of every invocation's EMF line, most
    of a trickle's log bytes, and the alarms' FILL(..., 0) reads a missing one as 0 anyway.
    """
    from aws_lambda_powertools.metrics import MetricUnit

    for key, name in names.items():
        if counts.get(key, 0) or key in zeros_for:
            metrics.add_metric(name=name, unit=MetricUnit.Count, value=counts.get(key, 0))


def trace_library(module: str) -> None:
    """Trace calls through `module` (an X-Ray supported library) from now on; once is enough."""
    tracer.patch(modules=(module,))


def mask_phone(number: str) -> str:
    """Keep the country code and last two digits: enough to tell numbers apart in logs, no more."""
    digits = number.lstrip("+")
    if len(digits) <= 6:
        return "+" + "*" * len(digits)
    return f"+{digits[:2]}{'*' * (len(digits) - 4)}{digits[-2:]}"
