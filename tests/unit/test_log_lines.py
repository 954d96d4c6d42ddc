"""What one JSON log line of a function holds: the invocation's keys, not the log group's."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator

import pytest

from courier.observability import logger
from local.moto_stack import FakeLambdaContext


@pytest.fixture
def lines() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    handlers = [h for h in logger.handlers if hasattr(h, "setStream")]
    previous = [h.setStream(stream) for h in handlers]
    yield stream
    for handler, old in zip(handlers, previous, strict=True):
        handler.setStream(old)


def test_a_line_ties_to_its_invocation_and_leaves_out_what_the_log_group_says(
    lines: io.StringIO,
) -> None:
    # Given a handler with the Lambda context injected into its logs
    @logger.inject_lambda_context(clear_state=True)
    def handler(event: object, context: object) -> None:
        logger.info("sms sent", extra={"job_id": "job-1"})

    # When it logs a line
    handler({}, FakeLambdaContext())

    # Then the line keeps the request id, the cold start flag and its own keys, and not the
    # function's name, ARN or memory (the log group, one per function, says those)
    line = json.loads(lines.getvalue().splitlines()[-1])
    assert line["function_request_id"] == FakeLambdaContext.aws_request_id
    assert "cold_start" in line
    assert (line["message"], line["job_id"], line["service"]) == ("sms sent", "job-1", "courier")
    assert not {"function_name", "function_arn", "function_memory_size"} & set(line)
