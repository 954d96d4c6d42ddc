"""A started local system as its users see it: addresses, AWS clients, stats batch, state file.

`make dev` writes the state file (.courier-local.json); `make demo`, `make invoke` and
`python -m local.runtime env|stats|alarms` read it back, as the e2e tests use the object itself.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterable
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from local.toolchain import ROOT
from scripts.smoke import Endpoints

STACK_NAME = "courier-local"
REGION = "ap-northeast-2"
SERVICE_TIMEZONE = timezone(timedelta(hours=9))  # Asia/Seoul, the template's default
STATE_FILE = ROOT / ".courier-local.json"
# MiniStack accepts any credentials; fixed fake ones keep a developer's real AWS profile out.
FAKE_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}


@dataclass
class LocalSystem:
    """What a started system exposes: endpoints, stack outputs, demo tokens."""

    endpoint: str
    redis_url: str
    outputs: dict[str, str]
    workdir: str
    tokens: dict[str, str] = field(default_factory=dict)
    startup_seconds: float = 0.0
    # The private MariaDB standing in for Aurora (writer and SELECT-only reader accounts).
    database_url: str = field(default="", repr=False)  # passwords: kept out of test output
    database_reader_url: str = field(default="", repr=False)
    # The admin console's users in the emulator's user pool: username -> password.
    admin_users: dict[str, str] = field(default_factory=dict)

    # ---- addresses
    @property
    def websocket_url(self) -> str:
        return self._endpoints().websocket

    @property
    def api_base(self) -> str:
        return self._endpoints().public_api

    def _endpoints(self) -> Endpoints:
        """MiniStack's address layout of the stack's APIs (the smoke check reads it too)."""
        return Endpoints.of(self.outputs, self.endpoint)

    @property
    def web_url(self) -> str:
        return f"{self.endpoint}/{self.outputs['WebBucketName']}/chat.html"

    @property
    def outbox(self) -> Path:
        """Every message the sandbox provider accepted, one JSON line each."""
        return Path(self.workdir) / "sandbox-outbox.jsonl"

    # ---- AWS access
    def aws_env(self) -> dict[str, str]:
        """Environment for a process that talks to the emulator (and never to real AWS)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(FAKE_CREDENTIALS)
        env.update(
            AWS_ENDPOINT_URL=self.endpoint,
            AWS_DEFAULT_REGION=REGION,
            AWS_REGION=REGION,
            AWS_CONFIG_FILE=os.devnull,
            AWS_SHARED_CREDENTIALS_FILE=os.devnull,
            SAM_CLI_TELEMETRY="0",
        )
        return env

    def client(self, service: str, config: Any = None) -> Any:
        """A boto3 client of the emulator; `config` (a botocore Config) replaces the default."""
        from botocore.config import Config

        session: Any = self._session()
        return session.client(
            service,
            endpoint_url=self.endpoint,
            config=config or Config(retries={"max_attempts": 3, "mode": "standard"}),
        )

    def client_resource(self, service: str) -> Any:

        session: Any = self._session()
        return session.resource(service, endpoint_url=self.endpoint)

    @staticmethod
    def _session() -> Any:
        import boto3

        return boto3.session.Session(
            aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            region_name=REGION,
        )

    def run_cli(self, *argv: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        """Run a console script of the app's venv (sms, chat) against the emulator."""
        binary = ROOT / ".venv" / "bin" / argv[0]
        return subprocess.run(
            [str(binary), *argv[1:]],
            input=stdin,
            capture_output=True,
            text=True,
            env=self.aws_env(),
            check=False,
            timeout=120,
        )

    def mint_token(self, sub: str, name: str, rooms: Iterable[str]) -> str:
        """What `chat token` does, signed with this stack's secret (from the emulator)."""
        from scripts.chat_session import mint_token

        secret_arn = self.outputs["ChatTokenSecretArn"]
        return mint_token(self.client("secretsmanager"), secret_arn, sub, name, rooms, 12 * 3600)

    def connect_ticket(self, token: str) -> str:
        """A single-use WebSocket ticket for `token` from the HTTP API, as the web page gets it."""
        from scripts.chat_session import request_ticket

        return request_ticket(self.api_base, token)

    # ---- the stats batch
    def counted_sms_records(self) -> int:
        """Stream records the SMS stats counter has put in partials so far (every day)."""
        table = self.client_resource("dynamodb").Table(self.outputs["SmsStatsPartialsTableName"])
        total, request = (
            0,
            {"ProjectionExpression": "#r", "ExpressionAttributeNames": {"#r": "records"}},
        )
        while True:
            page = table.scan(**request)
            total += sum(int(item.get("records", 0)) for item in page["Items"])
            if "LastEvaluatedKey" not in page:
                return total
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def wait_for_sms_counter(self, *, quiet: float = 3.0, timeout: float = 45) -> None:
        """Wait until the stats counter has caught up with the SmsMessages stream: its partials
        unchanged for `quiet` seconds (MiniStack polls a stream about once a second)."""
        deadline = time.monotonic() + timeout
        last, since = -1, time.monotonic()
        while time.monotonic() < deadline:
            now = self.counted_sms_records()
            if now != last:
                last, since = now, time.monotonic()
            elif time.monotonic() - since >= quiet:
                return
            time.sleep(0.5)

    def run_stats(self, day: str | None = None, *, timeout: float = 180) -> dict[str, Any]:
        """Start the state machine for `day` (default: today in Seoul) and wait for it to end,
        once the SMS stats counter has counted what the stream holds."""
        day = day or datetime.now(SERVICE_TIMEZONE).date().isoformat()
        self.wait_for_sms_counter()
        sfn = self.client("stepfunctions")
        started = sfn.start_execution(
            stateMachineArn=self.outputs["DailyStatsStateMachineArn"],
            name=f"local-{day}-{int(time.time() * 1000)}",
            input=json.dumps({"date": day}),
        )
        deadline = time.monotonic() + timeout
        while True:
            execution: dict[str, Any] = sfn.describe_execution(executionArn=started["executionArn"])
            if execution["status"] != "RUNNING" or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        result: dict[str, Any] = {
            "date": day,
            "status": execution["status"],
            "error": execution.get("error"),
            "cause": execution.get("cause"),
            "report": None,
        }
        if execution["status"] == "SUCCEEDED":
            result["report"] = self.report(day)
        return result

    def report(self, day: str) -> dict[str, Any] | None:
        """The JSON daily report the publish step wrote to the reports bucket, if any."""
        from courier.stats.contract import report_keys

        s3 = self.client("s3")
        key = report_keys(day)[0]
        try:
            body = s3.get_object(Bucket=self.outputs["StatsReportsBucketName"], Key=key)["Body"]
        except s3.exceptions.NoSuchKey:
            return None
        report: dict[str, Any] = json.loads(body.read())
        report["_key"] = key
        return report

    # ---- state file (make demo and `env` read it)
    def to_json(self) -> str:
        return json.dumps(
            {
                "endpoint": self.endpoint,
                "redis_url": self.redis_url,
                "outputs": self.outputs,
                "workdir": self.workdir,
                "tokens": self.tokens,
                "startup_seconds": self.startup_seconds,
                "database_url": self.database_url,
                "database_reader_url": self.database_reader_url,
                "admin_users": self.admin_users,
                "pid": os.getpid(),
            },
            indent=2,
        )

    @classmethod
    def from_state_file(cls, path: Path = STATE_FILE) -> LocalSystem:
        if not path.exists():
            raise SystemExit(
                "no local system is running: start it with `make dev` (in another terminal) first"
            )
        data = json.loads(path.read_text())
        with suppress(OSError):
            os.kill(int(data.get("pid", 0)), 0)
            return cls(
                endpoint=data["endpoint"],
                redis_url=data["redis_url"],
                outputs=data["outputs"],
                workdir=data["workdir"],
                tokens=data.get("tokens", {}),
                startup_seconds=data.get("startup_seconds", 0.0),
                database_url=data.get("database_url", ""),
                database_reader_url=data.get("database_reader_url", ""),
                admin_users=data.get("admin_users", {}),
            )
        raise SystemExit(f"{path} is stale (its process is gone): start the system with `make dev`")
