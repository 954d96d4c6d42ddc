"""Test harness shared by every suite: paths, event files, moto tables from template.yaml."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
EVENTS = ROOT / "events"
REGION = "ap-northeast-2"
ACCOUNT = "123456789012"


def load_event(relative: str) -> dict[str, Any]:
    """An event file from events/ (the same files `sam local invoke -e` uses)."""
    data: dict[str, Any] = json.loads((EVENTS / relative).read_text())
    return data


def template_resources() -> dict[str, Any]:
    from cfnlint.decode import decode_str

    template, matches = decode_str((ROOT / "template.yaml").read_text())
    assert not matches, matches
    resources: dict[str, Any] = template["Resources"]
    return resources


def create_table_from_template(client: Any, logical_id: str, table_name: str) -> None:
    """Create a moto table with the key schema and indexes that template.yaml declares."""
    props = template_resources()[logical_id]["Properties"]
    kwargs: dict[str, Any] = {
        "TableName": table_name,
        "KeySchema": props["KeySchema"],
        "AttributeDefinitions": props["AttributeDefinitions"],
        "BillingMode": "PAY_PER_REQUEST",
    }
    if props.get("GlobalSecondaryIndexes"):
        kwargs["GlobalSecondaryIndexes"] = [
            {k: v for k, v in index.items() if k in {"IndexName", "KeySchema", "Projection"}}
            for index in props["GlobalSecondaryIndexes"]
        ]
    client.create_table(**kwargs)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def redis_server(*extra_args: str) -> Iterator[str]:
    """A redis-server process of our own on a free port; yields its URL, stops it after."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("redis-server is not installed; `make tools` installs it")
    workdir = tempfile.mkdtemp(prefix="courier-redis-")
    port = free_port()
    process = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            workdir,
            *extra_args,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("redis-server did not start") from None
                time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(timeout=10)
        shutil.rmtree(workdir, ignore_errors=True)


@dataclass
class FakeLambdaContext:
    """A stand-in for the Lambda context object with the fields Powertools reads."""

    function_name: str = "courier-test"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:ap-northeast-2:123456789012:function:courier-test"
    aws_request_id: str = "00000000-0000-4000-8000-000000000000"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000
