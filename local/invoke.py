"""`make invoke`: one function of the running local system invoked with an events file.

The Docker-free counterpart of `sam local invoke`: `sam remote invoke` works against MiniStack
once AWS_ENDPOINT_URL points at it, so this runs exactly that (`--output json`, for the
FunctionError and the log tail) with the system's environment, and prints the answer.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from local.system import STACK_NAME, LocalSystem
from local.toolchain import ROOT, Toolchain


class InvokeFailed(RuntimeError):
    """`sam remote invoke` itself failed (no such function, no stack): its message."""


@dataclass(frozen=True)
class Invocation:
    """A function's answer: the payload, the FunctionError if any, the log tail (last 4 KB)."""

    payload: str
    function_error: str | None
    log_tail: str

    @classmethod
    def of(cls, response: dict[str, Any], payload: str) -> Invocation:
        """From an Invoke answer's fields (the log tail base64 in `LogResult`, as Lambda sends)."""
        log = response.get("LogResult")
        return cls(
            payload=payload,
            function_error=response.get("FunctionError"),
            log_tail=base64.b64decode(log).decode(errors="replace") if log else "",
        )

    def json(self) -> Any:
        return json.loads(self.payload) if self.payload else None


def sam_remote_invoke_argv(sam: Path, logical_id: str, event_file: Path) -> list[str]:
    return [
        str(sam),
        "remote",
        "invoke",
        logical_id,
        "--stack-name",
        STACK_NAME,
        "--event-file",
        str(event_file),
        "--output",
        "json",
    ]


def invoke(system: LocalSystem, logical_id: str, event_file: Path) -> Invocation:
    """Invoke the stack's function `logical_id` with `event_file` through `sam remote invoke`."""
    sam = Toolchain.find().sam
    completed = subprocess.run(
        sam_remote_invoke_argv(sam, logical_id, event_file),
        capture_output=True,
        text=True,
        env=system.aws_env(),
        cwd=ROOT,
        check=False,
        timeout=180,
    )
    if completed.returncode != 0:
        raise InvokeFailed(completed.stderr.strip() or f"exit {completed.returncode}")
    response: dict[str, Any] = json.loads(completed.stdout)
    return Invocation.of(response, response.get("Payload", ""))


def invoke_function(system: LocalSystem, function_name: str, event_file: Path) -> Invocation:
    """The Invoke request `sam remote invoke --output json` sends (RequestResponse, LogType Tail,
    the file as the payload), sent from this process to the deployed function `function_name`:
    no SAM CLI start-up (~2.5 CPU seconds) per call. The e2e suite uses it beside `invoke`."""
    from botocore.config import Config

    # One attempt: a retried Invoke would run the function twice.
    client = system.client("lambda", Config(read_timeout=180, retries={"total_max_attempts": 1}))
    response = client.invoke(
        FunctionName=function_name,
        InvocationType="RequestResponse",
        LogType="Tail",
        Payload=event_file.read_bytes(),
    )
    return Invocation.of(dict(response), response["Payload"].read().decode())


def command(system: LocalSystem, logical_id: str, event_file: Path) -> int:
    """What `make invoke` prints: the log tail on stderr, the payload on stdout (for jq); exit
    status 1 on a function error, 2 when the function could not be invoked."""
    try:
        answer = invoke(system, logical_id, event_file)
    except InvokeFailed as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if answer.log_tail:
        print(f"-- log tail of {logical_id}", file=sys.stderr)
        print(answer.log_tail.rstrip(), file=sys.stderr, flush=True)
    failed = f" (function error: {answer.function_error})" if answer.function_error else ""
    print(f"-- payload{failed}", file=sys.stderr, flush=True)
    try:
        print(json.dumps(answer.json(), indent=2, ensure_ascii=False))
    except json.JSONDecodeError:
        print(answer.payload)
    return 1 if answer.function_error else 0
