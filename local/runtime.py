"""The whole system on one machine: MiniStack, redis-server, MariaDB; template.yaml deployed by sam.

    python -m local.runtime up        # make dev: start, deploy, seed, print, wait for Ctrl-C
    python -m local.runtime env       # export lines (AWS_*, DATABASE_URL) for the running system
    python -m local.runtime stats     # run the stats batch for today and print the report
    python -m local.runtime alarms    # the stack's alarms and their states (local/alarms.py)

Hand-written because no library starts an emulator, deploys a SAM template into it and tears
it all down again; the AWS work itself goes through the SAM CLI and boto3. Emulator
differences are handled here by configuration only (parameter overrides, the layer's target
Python, two post-deploy repairs through the AWS APIs), never by another copy of the code or
the template; README "Running locally" lists them.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import tomllib
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from local.admin_sign_in import set_up_admin_sign_in
from local.admin_sign_in import summary_lines as admin_summary_lines
from local.database import LocalDatabase, without_password
from local.redis_server import RedisServer, free_port
from scripts.smoke import Endpoints

ROOT = Path(__file__).resolve().parents[1]
TOOLS = ROOT / ".tools"
STACK_NAME = "courier-local"
REGION = "ap-northeast-2"
SERVICE_TIMEZONE = timezone(timedelta(hours=9))  # Asia/Seoul, the template's default
STATE_FILE = ROOT / ".courier-local.json"
BUILD_DIR = ROOT / ".aws-sam" / "local" / "build"
CACHE_DIR = ROOT / ".aws-sam" / "local" / "cache"
DEFAULT_PORT = 4566
DEMO_ROOMS = ("lobby", "demo-*")
# MiniStack accepts any credentials; fixed fake ones keep a developer's real AWS profile out.
FAKE_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}

Log = Callable[[str], None]


class MissingTool(RuntimeError):
    """A tool the local runtime needs is not installed; the message says how to get it."""


class StartupFailed(RuntimeError):
    """A step of the start-up failed; the message names it and where its log is."""


# ---------------------------------------------------------------------------------------------
# Tools and processes
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Toolchain:
    sam: Path
    ministack_python: Path
    app_python: Path

    @classmethod
    def find(cls) -> Toolchain:
        sam = TOOLS / "sam" / "bin" / "sam"
        ministack_python = TOOLS / "ministack" / "bin" / "python"
        app_python = ROOT / ".venv" / "bin" / "python"
        missing = []
        if not sam.exists():
            missing.append(f"the SAM CLI ({sam})")
        if not ministack_python.exists():
            missing.append(f"MiniStack ({TOOLS / 'ministack'})")
        if not app_python.exists():
            missing.append(f"the app's virtualenv ({app_python.parent.parent})")
        if missing:
            raise MissingTool(
                "missing: " + ", ".join(missing) + ". Run `make dev` (it installs them) or "
                "`make tools`; both need only Python 3.11+ and PyPI."
            )
        if shutil.which("redis-server") is None:
            raise MissingTool(
                "missing: redis-server. Install it with `sudo apt-get install redis-server` "
                "(Debian/Ubuntu) or `brew install redis` (macOS), then run `make dev` again."
            )
        return cls(sam=sam, ministack_python=ministack_python, app_python=app_python)

    def layer_target(self) -> tuple[str, str]:
        """PYTHON_VERSION and PLATFORM for the layer: MiniStack runs functions on its own Python."""
        version = subprocess.run(
            [
                str(self.ministack_python),
                "-c",
                "import sys; print(f'{sys.version_info[0]}.{sys.version_info[1]}')",
            ],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
        machine = platform.machine().lower()
        arch = {"amd64": "x86_64", "arm64": "aarch64"}.get(machine, machine)
        return version, f"manylinux2014_{arch} manylinux_2_28_{arch}"


def wait_until(check: Callable[[], bool], *, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise StartupFailed(f"{what} did not come up within {timeout:.0f}s")


def _stop_process_group(process: subprocess.Popen[bytes] | None) -> None:
    """Stop a process started with its own session, and everything it started (TERM, then KILL)."""
    if process is None or process.poll() is not None:
        return
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=5)


# ---------------------------------------------------------------------------------------------
# The running system
# ---------------------------------------------------------------------------------------------


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

    def client(self, service: str) -> Any:
        from botocore.config import Config

        session: Any = self._session()
        return session.client(
            service,
            endpoint_url=self.endpoint,
            config=Config(retries={"max_attempts": 3, "mode": "standard"}),
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
    def run_stats(self, day: str | None = None, *, timeout: float = 180) -> dict[str, Any]:
        """Start the state machine for `day` (default: today in Seoul) and wait for it to end."""
        day = day or datetime.now(SERVICE_TIMEZONE).date().isoformat()
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


# ---------------------------------------------------------------------------------------------
# Start-up and shutdown
# ---------------------------------------------------------------------------------------------


def local_parameter_overrides() -> dict[str, str]:
    """The `local` environment's parameter_overrides from samconfig.toml, as a dict."""
    config = tomllib.loads((ROOT / "samconfig.toml").read_text())
    text = config["local"]["deploy"]["parameters"]["parameter_overrides"]
    pairs = (item.split("=", 1) for item in shlex.split(text))
    return {key: value for key, value in pairs}


def deploy_parameter_overrides(system: LocalSystem) -> dict[str, str]:
    """The `local` overrides plus this run's addresses: Redis, MariaDB, the emulator's APIs."""
    overrides = local_parameter_overrides()
    overrides.update(
        ExternalRedisUrl=system.redis_url,
        DatabaseAccess="external",
        ExternalDatabaseUrl=system.database_url,
        ExternalDatabaseReaderUrl=system.database_reader_url,
        ChatConnectionsEndpoint=f"{system.endpoint}/_aws/execute-api/{{apiId}}/{{stage}}",
        SandboxOutboxPath=str(system.outbox),
        EmulatorEndpointUrl=system.endpoint,
    )
    return overrides


class LocalRuntime:
    """Starts redis-server, MariaDB and MiniStack, builds and deploys the stack, seeds it; stops
    it all."""

    def __init__(
        self,
        *,
        port: int | None = None,
        state_file: Path | None = None,
        seed: bool = True,
        log: Log = print,
        ministack_env: dict[str, str] | None = None,
    ) -> None:
        self._port = port
        # Added to MiniStack's environment, which its function workers inherit (the e2e suite
        # records the functions' AWS calls this way).
        self._ministack_env = dict(ministack_env or {})
        self._state_file = state_file
        self._seed = seed
        self._log = log
        self._redis = ExitStack()
        # Public: the fault suite stops and starts it to take Redis away from the functions.
        self.redis: RedisServer | None = None
        self.database: LocalDatabase | None = None
        self._ministack: subprocess.Popen[bytes] | None = None
        self._workdir: str | None = None
        self.system: LocalSystem | None = None

    def __enter__(self) -> LocalSystem:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---- start
    def start(self) -> LocalSystem:
        started = time.monotonic()
        tools = Toolchain.find()
        self._workdir = tempfile.mkdtemp(prefix="courier-local-")
        workdir = Path(self._workdir)
        port = free_port(self._port or DEFAULT_PORT)
        endpoint = f"http://127.0.0.1:{port}"

        # MariaDB starts and is migrated in a thread while the steps below run.
        self.database = LocalDatabase()
        self.database.start_in_background()
        with self._step("redis-server and MiniStack started"):
            self.redis = RedisServer("--logfile", str(workdir / "redis.log"))
            self._redis.callback(self.redis.close)
            self.redis.start()
            redis_url = self.redis.url
            redis_port = self.redis.port
            self._ministack = self._start_ministack(tools, port, redis_port, workdir)
        # The build needs neither process: it runs while MiniStack starts.
        with self._step("sam build (layer for the host Python)"):
            self._build(tools, workdir)
        with self._step("MiniStack answering"):
            wait_until(lambda: self._ministack_ready(endpoint), timeout=60, what="MiniStack")
        with self._step("MariaDB started and migrated"):
            self.database.wait()
        system = LocalSystem(
            endpoint=endpoint,
            redis_url=redis_url,
            outputs={},
            workdir=str(workdir),
            database_url=self.database.writer_url,
            database_reader_url=self.database.reader_url,
        )
        with self._step("sam deploy --config-env local"):
            self._deploy(tools, system)
            system.outputs = self._outputs(system)
        with self._step("emulator repairs, web app upload"):
            repair_event_source_mappings(system)
            import_http_api_routes(system)
            system.admin_users = set_up_admin_sign_in(system)
            self._upload_web(tools, system)
        with self._step("demo tokens" + (" and seed data" if self._seed else "")):
            system.tokens = {
                "alice": system.mint_token("alice", "Alice", DEMO_ROOMS),
                "bob": system.mint_token("bob", "Bob", DEMO_ROOMS),
            }
            if self._seed:
                from local.seed import seed

                seed(system)
        system.startup_seconds = round(time.monotonic() - started, 1)
        self.system = system
        if self._state_file is not None:
            self._state_file.write_text(system.to_json())
        return system

    @contextmanager
    def _step(self, name: str) -> Iterator[None]:
        t0 = time.monotonic()
        yield
        self._log(f"  {name}: {time.monotonic() - t0:.1f}s")

    def _start_ministack(
        self, tools: Toolchain, port: int, redis_port: int, workdir: Path
    ) -> subprocess.Popen[bytes]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(
            BIND_HOST="127.0.0.1",  # never reachable from another machine
            GATEWAY_PORT=str(port),
            MINISTACK_HOST="127.0.0.1",
            MINISTACK_REGION=REGION,
            # Its ElastiCache answers with the Redis address it was started with.
            REDIS_HOST="127.0.0.1",
            REDIS_PORT=str(redis_port),
            S3_DATA_DIR=str(workdir / "s3"),
            STATE_DIR=str(workdir / "state"),
            TMPDIR=str(workdir),
            SFTP_ENABLED="0",
            IOT_MTLS_ENABLED="0",
            LOG_LEVEL="INFO",
        )
        env.update(self._ministack_env)
        log = (workdir / "ministack.log").open("wb")
        # Its own session: Ctrl-C in the terminal reaches us, and we stop its whole group
        # (MiniStack plus the function workers it spawns).
        return subprocess.Popen(
            [str(tools.ministack_python), "-m", "ministack"],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
            cwd=workdir,
        )

    def _ministack_ready(self, endpoint: str) -> bool:
        if self._ministack is not None and self._ministack.poll() is not None:
            raise StartupFailed(self._failure("MiniStack exited", "ministack.log"))
        import urllib.request

        try:
            with urllib.request.urlopen(f"{endpoint}/_ministack/health", timeout=2) as response:
                return bool(response.status == 200)
        except OSError:
            return False

    def _build(self, tools: Toolchain, workdir: Path) -> None:
        python_version, platforms = tools.layer_target()
        env = dict(
            os.environ,
            SAM_CLI_TELEMETRY="0",
            AWS_DEFAULT_REGION=REGION,
            PYTHON_VERSION=python_version,
            PLATFORM=platforms,
            PIP=f"{TOOLS / 'sam' / 'bin' / 'python'} -m pip",
        )
        # A build directory and cache of its own: the CI build targets arm64/python3.13.
        self._run(
            [
                str(tools.sam),
                "build",
                "--template-file",
                str(ROOT / "template.yaml"),
                "--build-dir",
                str(BUILD_DIR),
                "--cache-dir",
                str(CACHE_DIR),
                "--cached",
                "--parallel",
            ],
            env=env,
            log=workdir / "build.log",
            what="sam build",
        )

    def _deploy(self, tools: Toolchain, system: LocalSystem) -> None:
        overrides = deploy_parameter_overrides(system)
        self._run(
            [
                str(tools.sam),
                "deploy",
                "--config-file",
                str(ROOT / "samconfig.toml"),
                "--config-env",
                "local",
                "--template-file",
                str(BUILD_DIR / "template.yaml"),
                "--no-progressbar",
                "--parameter-overrides",
                " ".join(f"{k}={v}" for k, v in overrides.items()),
            ],
            # The emulator applies a change set in seconds: poll every half second, not every 5.
            env={**system.aws_env(), "SAM_CLI_POLL_DELAY": "0.5"},
            log=Path(system.workdir) / "deploy.log",
            what="sam deploy",
        )

    def _outputs(self, system: LocalSystem) -> dict[str, str]:
        stacks = system.client("cloudformation").describe_stacks(StackName=STACK_NAME)
        return {o["OutputKey"]: o["OutputValue"] for o in stacks["Stacks"][0]["Outputs"]}

    def _upload_web(self, tools: Toolchain, system: LocalSystem) -> None:
        self._run(
            [
                str(tools.app_python),
                str(ROOT / "scripts" / "deploy_web.py"),
                "--stack",
                STACK_NAME,
                "--region",
                REGION,
                "--web-socket-url",
                system.websocket_url,
                "--api-base",
                system.api_base,
            ],
            env=system.aws_env(),
            log=Path(system.workdir) / "web.log",
            what="web upload",
        )

    def _run(self, argv: list[str], *, env: dict[str, str], log: Path, what: str) -> None:
        with log.open("wb") as out:
            code = subprocess.run(
                argv, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=ROOT, check=False
            ).returncode
        if code != 0:
            raise StartupFailed(self._failure(f"{what} failed (exit {code})", log.name))

    def _failure(self, headline: str, log_name: str) -> str:
        path = Path(self._workdir or ".") / log_name
        tail = ""
        with suppress(OSError):
            tail = "\n".join(path.read_text(errors="replace").splitlines()[-25:])
        return f"{headline}; last lines of {log_name}:\n{tail}"

    # ---- stop
    def stop(self) -> None:
        _stop_process_group(self._ministack)
        self._ministack = None
        self._redis.close()
        if self.database is not None:
            self.database.close()
            self.database = None
        if self._state_file is not None:
            with suppress(FileNotFoundError):
                self._state_file.unlink()
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None


def repair_event_source_mappings(system: LocalSystem) -> None:
    """Re-apply each SQS mapping's MaximumConcurrency through the Lambda API.

    MiniStack's CloudFormation stores the value as the string CloudFormation passes, and its
    poller then fails comparing it with a number; the API path stores an integer. (boto3 reads
    the string back as an int, so the stored type cannot be seen from here: always re-apply.)
    """
    lam = system.client("lambda")
    for page in lam.get_paginator("list_event_source_mappings").paginate():
        for mapping in page["EventSourceMappings"]:
            limit = (mapping.get("ScalingConfig") or {}).get("MaximumConcurrency")
            if limit is not None:
                lam.update_event_source_mapping(
                    UUID=mapping["UUID"], ScalingConfig={"MaximumConcurrency": int(limit)}
                )


def import_http_api_routes(system: LocalSystem) -> None:
    """Create the HTTP API's routes through the API Gateway v2 API, from the functions' events.

    SAM turns AWS::Serverless::HttpApi into an API with an inline OpenAPI body; MiniStack's
    CloudFormation ignores that body, so the API would have no routes. The routes here are the
    template's own `HttpApi` events (method, path, IAM or none), each a Lambda proxy
    integration (payload 2.0) of the function that declares it, as SAM would have made them.
    """
    import yaml

    # Only literal event properties are read, so intrinsic functions (!Ref, ...) load as None;
    # a plain YAML read costs a fraction of cfn-lint's decoder on the start-up path.
    class TemplateLoader(yaml.SafeLoader):  # type: ignore[misc]  # PyYAML ships no types
        pass

    TemplateLoader.add_multi_constructor("!", lambda loader, suffix, node: None)
    template = yaml.load((ROOT / "template.yaml").read_text(), Loader=TemplateLoader)  # noqa: S506
    apigw, lam = system.client("apigatewayv2"), system.client("lambda")
    api_id = system.outputs["HttpApiId"]
    existing = {route["RouteKey"] for route in apigw.get_routes(ApiId=api_id)["Items"]}
    stack = system.client("cloudformation")
    for logical_id, resource in template["Resources"].items():
        events = resource.get("Properties", {}).get("Events", {})
        routes = [e["Properties"] for e in events.values() if e.get("Type") == "HttpApi"]
        if resource.get("Type") != "AWS::Serverless::Function" or not routes:
            continue
        function = stack.describe_stack_resource(StackName=STACK_NAME, LogicalResourceId=logical_id)
        name = function["StackResourceDetail"]["PhysicalResourceId"]
        arn = lam.get_function(FunctionName=name)["Configuration"]["FunctionArn"]
        integration = apigw.create_integration(
            ApiId=api_id,
            IntegrationType="AWS_PROXY",
            IntegrationUri=arn,
            PayloadFormatVersion="2.0",
        )["IntegrationId"]
        for route in routes:
            key = f"{route['Method'].upper()} {route['Path']}"
            if key in existing:
                continue
            iam = route.get("Auth", {}).get("Authorizer") == "AWS_IAM"
            apigw.create_route(
                ApiId=api_id,
                RouteKey=key,
                Target=f"integrations/{integration}",
                AuthorizationType="AWS_IAM" if iam else "NONE",
            )


# ---------------------------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------------------------


def summary(system: LocalSystem) -> str:
    o = system.outputs
    env = " ".join(
        f"{k}={v}"
        for k, v in {
            "AWS_ENDPOINT_URL": system.endpoint,
            **FAKE_CREDENTIALS,
            "AWS_DEFAULT_REGION": REGION,
        }.items()
    )
    return "\n".join(
        [
            "",
            f"courier is running locally (MiniStack {system.endpoint}, Redis {system.redis_url})",
            "",
            f"  web page        {system.web_url}",
            f"  WebSocket       {system.websocket_url}?ticket=<ticket>",
            f"  ticket          POST {system.api_base}/chat/tickets, Authorization: Bearer <token>",
            f"  HTTP API        {system.api_base}",
            f"  stats page      {system.web_url.replace('chat.html', 'stats.html')}",
            f"  database        {without_password(system.database_url)} (MariaDB, the writer)",
            f"                  {without_password(system.database_reader_url)} (the reader)",
            "                  (with passwords: .venv/bin/python -m local.runtime env)",
            f"  token alice     {system.tokens.get('alice', '')}",
            f"  token bob       {system.tokens.get('bob', '')}",
            f"                  (rooms: {', '.join(DEMO_ROOMS)}; paste one into the web page)",
            f"  SMS queue       {o['SmsTransactionalQueueUrl']}",
            f"  bulk queue      {o['SmsBulkQueueUrl']}",
            f"  dead letters    {o['SmsTransactionalDeadLetterQueueUrl']}",
            f"                  {o['SmsBulkDeadLetterQueueUrl']}",
            f"  sandbox outbox  {system.outbox}",
            *admin_summary_lines(system),
            "",
            "  send an SMS job:",
            f"    {env} \\",
            "    .venv/bin/sms send --to +821012345678 --body 'Hello from courier' \\",
            f"      --transactional-queue-url {o['SmsTransactionalQueueUrl']}",
            "  run the stats batch for today:  .venv/bin/python -m local.runtime stats",
            "  the scripted demo:              make demo",
            "",
            f"started in {system.startup_seconds:.1f}s; Ctrl-C stops everything and removes "
            f"{system.workdir}",
        ]
    )


def _up(args: argparse.Namespace) -> int:
    print(f"starting courier locally (stack {STACK_NAME}) ...", flush=True)
    runtime = LocalRuntime(
        port=args.port, state_file=STATE_FILE, log=lambda line: print(line, flush=True)
    )

    def request_stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt  # `kill` stops the system the way Ctrl-C does

    signal.signal(signal.SIGTERM, request_stop)
    try:
        system = runtime.start()
        print(summary(system), flush=True)
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        print("\nstopping ...", flush=True)
        return 0
    except RuntimeError as error:  # MissingTool, StartupFailed, a failed seed step
        print(f"error: {error}", file=sys.stderr)
        return 1
    finally:
        runtime.stop()
        print("stopped; temporary files removed", flush=True)


def _env(args: argparse.Namespace) -> int:
    system = LocalSystem.from_state_file()
    for key in (
        "AWS_ENDPOINT_URL",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_DEFAULT_REGION",
    ):
        print(f"export {key}={shlex.quote(system.aws_env()[key])}")
    # The stats history's database, as the functions reach it (courier.settings reads these).
    for key, url in (
        ("DATABASE_URL", system.database_url),
        ("DATABASE_READER_URL", system.database_reader_url),
    ):
        if url:
            print(f"export {key}={shlex.quote(url)}")
    return 0


def _stats(args: argparse.Namespace) -> int:
    system = LocalSystem.from_state_file()
    result = system.run_stats(args.date)
    print(json.dumps(result, indent=2))
    return 0 if result["status"] == "SUCCEEDED" else 1


def _alarms(args: argparse.Namespace) -> int:
    from local.alarms import command

    system = LocalSystem.from_state_file()
    return command(system.client, STACK_NAME, publish=not args.no_queue_metrics)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.runtime", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    up = commands.add_parser("up", help="start the local system and wait for Ctrl-C")
    up.add_argument(
        "--port",
        type=int,
        default=None,
        help=f"MiniStack port (default {DEFAULT_PORT}, or a free one)",
    )
    up.set_defaults(run=_up)
    commands.add_parser("env", help="print export lines for the running system").set_defaults(
        run=_env
    )
    stats = commands.add_parser("stats", help="run the stats batch and print its report")
    stats.add_argument("--date", help="YYYY-MM-DD (default: today in Asia/Seoul)")
    stats.set_defaults(run=_stats)
    alarms = commands.add_parser("alarms", help="list the stack's alarms and their states")
    alarms.add_argument(
        "--no-queue-metrics",
        action="store_true",
        help="do not publish the queues' depths to CloudWatch first (see local/alarms.py)",
    )
    alarms.set_defaults(run=_alarms)
    args = parser.parse_args(argv)
    result: int = args.run(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
