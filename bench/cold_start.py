"""Cold start of five handlers (import + first invocation of a one-record event) against a floor.

For each function (the SMS sender, receipts, chat channel, chat authorizer, API) every sample
is a NEW process that imports the handler module and runs its first invocation with the event
from `events/`, timed together with `time.perf_counter`: the lazy set-up of the first call
(boto3 clients and resources, phonenumbers, redis, Powertools batch/idempotency, pydantic
model builds, Secrets Manager reads) is inside the clock. Its FLOOR is what any Python
function of that kind pays: a new process that imports boto3 and creates one client per AWS
service that function's first invocation created (recorded by the untimed warm-up), with the
same region and DynamoDB timeouts, nothing else. `<fn>_ratio = <fn>_ms / floor_ms`.

The network is faked without sleeps: a `before-send` hook in botocore's built-in handlers
(the one moto uses) answers every AWS request in-process with a well-formed response, so the
real clients serialize each request and parse each answer; nothing of moto is imported. The
hook is installed before the clock, and only when `botocore.handlers` is first imported, so
botocore's import stays inside the clock. Redis is a private cluster-mode `redis-server`
(`local.redis_server.RedisServer`) with a password the functions read from (faked) Secrets
Manager, as deployed: a local socket is what the function pays minus the network.

Why hand-written: botocore's Stubber needs the client object before the first call, which only
exists inside the function's own lazy set-up, and it skips request serialization and response
parsing; moto's import alone would outweigh the figure.

Processes are interleaved (floor, function, next function's floor, ...) so machine noise hits
every side; bytecode is compiled once by the untimed warm-up, as a layer ships it; medians of
RUNS. The environment is a deployed function's: template variables, fake credentials,
`LAMBDA_TASK_ROOT` and an X-Ray trace header so the Powertools tracer is ON as on Lambda.

Prints `bench cold-start: ...`; exits 1 unless the sender and the authorizer ratios are <= 1.5.
Run directly, `--probe NAME` is one sample (used by the benchmark itself).
"""

from __future__ import annotations

import io
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
LAYER_DIR = ROOT / "layers" / "courier" / "src"
REGION = "ap-northeast-2"
ACCOUNT = "123456789012"
RUNS = 9
TARGET_RATIO = 1.5
TARGETS = ("sender", "authorizer")
REDIS_PASSWORD = "bench-redis-password"  # a throwaway local server's
TOKEN_SECRET = "bench-chat-token-secret-of-at-least-32-bytes"
ORIGIN_SECRET = "local-origin-secret"  # the value in events/api/post-sms.json
SECRET_ARN = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:courier-bench-AbCdEf"


# name: (code directory, handler module, event file, environment of its template resource)
FUNCTIONS: dict[str, tuple[str, str, str, dict[str, str]]] = {
    "sender": (
        "functions/sms",
        "sender",
        "events/sms/sender-valid.json",
        {
            "AWS_LAMBDA_FUNCTION_NAME": "courier-sms-transactional-sender",
            "SMS_OPT_OUT_TABLE": "SmsOptOuts",
            "SMS_DEAD_LETTER_QUEUE_URL": (
                f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/courier-sms-transactional-dlq"
            ),
            "SMS_PROVIDER": "sandbox",
            "SMS_MAX_PARTS": "3",
            "SMS_RATE_LIMIT_MPS": "20",
            "SMS_RATE_LIMIT_FALLBACK_INSTANCES": "10,10",
            "SMS_IDEMPOTENCY_TTL_SECONDS": "1814400",
            "REDIS_AUTH_SECRET_ARN": SECRET_ARN,
        },
    ),
    "receipts": (
        "functions/sms",
        "receipts",
        "events/sms/receipt-delivered.json",
        {
            "AWS_LAMBDA_FUNCTION_NAME": "courier-sms-status",
            "SMS_DEAD_LETTER_QUEUE_URL": (
                f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/courier-sms-events-dlq"
            ),
        },
    ),
    "channel": (
        "functions/chat",
        "channel",
        "events/chat/send.json",
        {
            "AWS_LAMBDA_FUNCTION_NAME": "courier-chat-channel",
            "POWERTOOLS_SERVICE_NAME": "courier-chat",
            "CHAT_CONNECTIONS_TABLE": "ChatConnections",
            "CHAT_MESSAGES_TABLE": "ChatMessages",
            "CHAT_MESSAGE_RETENTION_DAYS": "30",
            "CHAT_DAY_SHARDS": "4",
            "CHAT_SEND_RATE_PER_SECOND": "5",
            "CHAT_HISTORY_RECENT": "50",
            "CHAT_FANOUT_WORKERS": "16",
            "REDIS_AUTH_SECRET_ARN": SECRET_ARN,
        },
    ),
    "authorizer": (
        "functions/chat",
        "authorizer",
        "events/chat/authorizer.json",
        {
            "AWS_LAMBDA_FUNCTION_NAME": "courier-chat-authorizer",
            "POWERTOOLS_SERVICE_NAME": "courier-chat",
            "CHAT_TOKEN_SECRET_ARN": SECRET_ARN,
            "CHAT_TOKEN_MAX_AGE_SECONDS": "86400",
            "CHAT_TICKETS_TABLE": "ChatTickets",
            "CHAT_REVOCATIONS_TABLE": "ChatRevocations",
        },
    ),
    "api": (
        "functions/api",
        "app",
        "events/api/post-sms.json",
        {
            "AWS_LAMBDA_FUNCTION_NAME": "courier-api",
            "POWERTOOLS_SERVICE_NAME": "courier-api",
            "SMS_TRANSACTIONAL_QUEUE_URL": (
                f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/courier-sms-transactional"
            ),
            "SMS_BULK_QUEUE_URL": f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/courier-sms-bulk",
            "STATS_TABLE": "DailyStats",
            "CHAT_MESSAGES_TABLE": "ChatMessages",
            "CHAT_TOKEN_SECRET_ARN": SECRET_ARN,
            "CHAT_TOKEN_MAX_AGE_SECONDS": "86400",
            "CHAT_TICKETS_TABLE": "ChatTickets",
            "CHAT_REVOCATIONS_TABLE": "ChatRevocations",
            "CHAT_HISTORY_RECENT": "50",
            "CHAT_DAY_SHARDS": "4",
            "ORIGIN_VERIFY_SECRET_ARN": SECRET_ARN,
            "VERIFY_CLOUDFRONT_ORIGIN": "true",
        },
    ),
}

# The claims a redeemed ticket stands for (authorizer) and the connection's session (channel).
CLAIMS = {"sub": "alice", "name": "Alice", "rooms": ["lobby"], "iss": "courier"}


# ---------------------------------------------------------------------------------------------
# The probe: one sample, in its own process. Only the standard library is imported up here.
# ---------------------------------------------------------------------------------------------


class _RawBody(io.BytesIO):
    """What botocore reads a response body from (the shape moto's responses have)."""

    def stream(self, **_: Any) -> Any:
        contents = self.read()
        while contents:
            yield contents
            contents = self.read()


class FakeAws:
    """Answers AWS requests in-process by service and operation; counts them."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.clients: list[str] = []

    def answer(self, request: Any, event_name: str, **kwargs: Any) -> Any:
        from botocore.awsrequest import AWSResponse

        _, service, operation = event_name.split(".", 2)
        self.calls.append(f"{service}.{operation}")
        body = request.body or b"{}"
        params = json.loads(body) if body[:1] in (b"{", "{") else {}
        status, payload = self._payload(service, operation, params)
        headers: Any = {"Content-Type": "application/x-amz-json-1.0", "x-amzn-RequestId": "bench"}
        raw = _RawBody(json.dumps(payload).encode() if payload is not None else b"")
        return AWSResponse(request.url, status, headers, raw)

    def record_client(self, event_name: str, **_: Any) -> None:
        self.clients.append(event_name.split(".", 1)[1])

    def _payload(
        self, service: str, operation: str, params: dict[str, Any]
    ) -> tuple[int, dict[str, Any] | None]:
        now = int(time.time())
        if service == "secrets-manager" and operation == "GetSecretValue":
            secret = {"password": REDIS_PASSWORD, "secret": TOKEN_SECRET, "value": ORIGIN_SECRET}
            return 200, {
                "ARN": params.get("SecretId", SECRET_ARN),
                "Name": "courier-bench",
                "VersionId": "v1",
                "SecretString": json.dumps(secret),
                "VersionStages": ["AWSCURRENT"],
                "CreatedDate": now,
            }
        if service == "dynamodb":
            table = str(params.get("TableName", ""))
            if operation == "DeleteItem" and table == "ChatTickets":
                claims = {**CLAIMS, "aud": "courier-chat", "iat": now - 60, "exp": now + 3600}
                return 200, {"Attributes": {"claims": {"S": json.dumps(claims)}}}
            if operation == "GetItem" and table == "ChatConnections":
                item = {
                    "connection_id": {"S": "Conn-Alice-0001="},
                    "sub": {"S": CLAIMS["sub"]},
                    "name": {"S": CLAIMS["name"]},
                    "rooms": {"L": [{"S": room} for room in CLAIMS["rooms"]]},
                }
                return 200, {"Item": item}
            return 200, {}
        if service == "sqs" and operation == "SendMessageBatch":
            return 200, {
                "Successful": [
                    {"Id": e["Id"], "MessageId": f"m-{e['Id']}", "MD5OfMessageBody": _md5(e)}
                    for e in params.get("Entries", [])
                ],
                "Failed": [],
            }
        if service == "sqs" and operation == "SendMessage":
            return 200, {"MessageId": "m-1", "MD5OfMessageBody": _md5(params)}
        if service == "apigatewaymanagementapi":
            return 200, None
        raise RuntimeError(f"the bench has no answer for {service}.{operation}")

    def install(self) -> None:
        """Add the hooks to botocore's built-in handlers when botocore first imports them."""
        import importlib.abc
        import importlib.util

        fake = self

        class _AfterImport(importlib.abc.MetaPathFinder):
            def find_spec(self, fullname: str, path: Any, target: Any = None) -> Any:
                if fullname != "botocore.handlers":
                    return None
                sys.meta_path.remove(self)
                spec = importlib.util.find_spec(fullname)
                assert spec is not None
                assert spec.loader is not None
                exec_module = spec.loader.exec_module

                def exec_and_hook(module: Any) -> None:
                    exec_module(module)
                    module.BUILTIN_HANDLERS.append(("before-send", fake.answer))
                    module.BUILTIN_HANDLERS.append(("creating-client-class", fake.record_client))

                spec.loader.exec_module = exec_and_hook  # type: ignore[method-assign]
                return spec

        sys.meta_path.insert(0, _AfterImport())


def _md5(entry: dict[str, Any]) -> str:
    import hashlib

    return hashlib.md5(str(entry["MessageBody"]).encode(), usedforsecurity=False).hexdigest()


class _Context:
    """The attributes Powertools reads from a Lambda context."""

    function_name = "courier-bench"
    function_version = "$LATEST"
    invoked_function_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:courier-bench"
    memory_limit_in_mb = 512
    aws_request_id = "00000000-0000-4000-8000-000000000000"
    log_group_name = "/aws/lambda/courier-bench"
    log_stream_name = "bench"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


def _check(name: str, response: Any, calls: list[str]) -> None:
    """The invocation did the work it is measured for, not an early error."""
    if name in ("sender", "receipts"):
        ok = response == {"batchItemFailures": []}
    elif name == "channel":
        ok = response.get("statusCode") == 200 and any("PostToConnection" in c for c in calls)
    elif name == "authorizer":
        ok = response["policyDocument"]["Statement"][0]["Effect"] == "Allow"
    else:
        ok = response.get("statusCode") == 202 and "sqs.SendMessageBatch" in calls
    if not ok:
        raise RuntimeError(f"{name}: unexpected first invocation: {response!r} after {calls}")


def probe(name: str, floor_services: list[str]) -> None:
    """One sample: `name`'s import and first invocation, or with `floor_services` its floor."""
    code_dir, module_name, event_file, _ = FUNCTIONS[name]
    # /var/task first, then /opt/python, as the Lambda runtime orders them.
    sys.path[0:1] = [str(ROOT / code_dir), str(LAYER_DIR)]
    fake = FakeAws()
    fake.install()
    event = json.loads((ROOT / event_file).read_text())
    if "Records" in event:
        event["Records"] = event["Records"][:1]  # a one-record batch
    context = _Context()
    cpu_start = time.process_time()
    start = time.perf_counter()
    if floor_services:
        import boto3
        from botocore.config import Config

        dynamodb_config = Config(
            connect_timeout=2, read_timeout=3, retries={"mode": "standard", "total_max_attempts": 3}
        )
        for service in floor_services:
            config = dynamodb_config if service == "dynamodb" else None
            boto3.client(service, config=config)  # type: ignore[call-overload]
    else:
        module = __import__(module_name)
        response = module.handler(event, context)
    elapsed = (time.perf_counter() - start) * 1000
    cpu = (time.process_time() - cpu_start) * 1000
    if not floor_services:
        _check(name, response, fake.calls)
    observability = sys.modules.get("courier.observability")
    tracing = "n/a" if observability is None else ("off" if observability.tracer.disabled else "on")
    services = ",".join(sorted({_client_service(c) for c in fake.clients})) or "-"
    print(f"PROBE {elapsed:.3f} {cpu:.3f} {tracing} {services} {len(fake.calls)}", flush=True)


def _client_service(event_suffix: str) -> str:
    """`creating-client-class.<service id>` -> the name boto3.client takes."""
    return {"secrets-manager": "secretsmanager"}.get(event_suffix, event_suffix)


# ---------------------------------------------------------------------------------------------
# The benchmark: runs the probes interleaved and prints the line.
# ---------------------------------------------------------------------------------------------


def lambda_env(name: str, redis_url: str) -> dict[str, str]:
    """The process environment of the deployed function `name` (tracing active)."""
    code_dir, module_name, _, own = FUNCTIONS[name]
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(
            ("AWS_", "POWERTOOLS_", "SMS_", "CHAT_", "STATS_", "PYTHON", "REDIS_", "LAMBDA_")
        )
        and key not in ("DATABASE_URL", "ORIGIN_VERIFY_SECRET_ARN", "VERIFY_CLOUDFRONT_ORIGIN")
    }
    env.update(
        {
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "POWERTOOLS_SERVICE_NAME": "courier-sms",
            "POWERTOOLS_METRICS_NAMESPACE": "Courier",
            "POWERTOOLS_LOG_LEVEL": "INFO",
            "SERVICE_TIMEZONE": "Asia/Seoul",
            "SMS_MESSAGES_TABLE": "SmsMessages",
            "LAMBDA_TASK_ROOT": str(ROOT / code_dir),
            "LAMBDA_RUNTIME_DIR": "/var/runtime",
            "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/courier-bench",
            "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
            "AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1:2000",
            # A sampled trace, as Lambda sets per invocation: the tracer records subsegments.
            "_X_AMZN_TRACE_ID": (
                "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
            ),
            "_HANDLER": f"{module_name}.handler",
            "REDIS_URL": redis_url,
        }
    )
    env.update(own)
    return env


def run_probe(
    name: str, floor_services: list[str], redis_url: str
) -> tuple[float, float, str, list[str], int]:
    """Wall ms, CPU ms, tracer state, client services created and AWS calls of one sample."""
    import subprocess

    command = [sys.executable, str(Path(__file__).resolve()), "--probe", name]
    if floor_services:
        command += ["--floor", ",".join(floor_services)]
    result = subprocess.run(
        command,
        cwd=ROOT / FUNCTIONS[name][0],
        env=lambda_env(name, redis_url),
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    lines = [line for line in result.stdout.splitlines() if line.startswith("PROBE ")]
    if result.returncode != 0 or not lines:
        raise RuntimeError(f"probe {name} failed:\n{result.stdout[-3000:]}\n{result.stderr}")
    _, elapsed, cpu, tracing, services, calls = lines[-1].split()
    return (
        float(elapsed),
        float(cpu),
        tracing,
        [s for s in services.split(",") if s != "-"],
        int(calls),
    )


def reset_redis(redis_url: str) -> None:
    """An empty node, plus the channel's connection: a session that has joined the lobby."""
    import redis

    from courier.chat.presence import RoomState, Session

    client = redis.Redis.from_url(redis_url, password=REDIS_PASSWORD)
    client.flushall()
    rooms = RoomState(client, recent_limit=50)
    session = Session("Conn-Alice-0001=", CLAIMS["sub"], CLAIMS["name"], ("lobby",))  # type: ignore[arg-type]
    rooms.open_session(session, expires_at=int(time.time()) + 3600)
    rooms.join("lobby", "Conn-Alice-0001=")
    client.close()


def main() -> int:
    sys.path[0:0] = [str(LAYER_DIR), str(ROOT)]
    from bench._common import detail, median, summary
    from local.redis_server import RedisServer

    server = RedisServer("--requirepass", REDIS_PASSWORD, auth=("default", REDIS_PASSWORD))
    server.start()
    try:
        url = server.url
        floors: dict[str, list[str]] = {}
        calls: dict[str, int] = {}
        for name in FUNCTIONS:  # compile and cache bytecode, learn the clients; not timed
            reset_redis(url)
            _, _, tracing, services, calls[name] = run_probe(name, [], url)
            if tracing != "on":
                raise RuntimeError(f"{name}: the tracer must be on as on Lambda; it was {tracing}")
            floors[name] = services or ["sts"]
            run_probe(name, floors[name], url)
        wall: dict[str, list[float]] = {f"{n}{s}": [] for n in FUNCTIONS for s in ("", "_floor")}
        cpu: dict[str, list[float]] = {key: [] for key in wall}
        for round_index in range(RUNS):
            for name in FUNCTIONS:
                sides = [(name, []), (f"{name}_floor", floors[name])]
                if round_index % 2:
                    sides.reverse()  # neither side always goes first
                for key, services in sides:
                    reset_redis(url)
                    elapsed, spent, _, _, _ = run_probe(name, services, url)
                    wall[key].append(elapsed)
                    cpu[key].append(spent)
    finally:
        server.close()
    fields: dict[str, object] = {}
    ratios: dict[str, float] = {}
    for name in FUNCTIONS:
        ms, floor_ms = median(wall[name]), median(wall[f"{name}_floor"])
        ratios[name] = ms / floor_ms
        fields[f"{name}_ms"] = f"{ms:.1f}"
        fields[f"{name}_ratio"] = f"{ratios[name]:.2f}"
    met = all(ratios[name] <= TARGET_RATIO for name in TARGETS)
    fields.update(
        {
            "runs": RUNS,
            "tracing": "on",
            "target_ratio": f"<={TARGET_RATIO:g}(sender,authorizer)",
            "target": "met" if met else "MISSED",
        }
    )
    summary("cold-start", fields)
    for name in FUNCTIONS:
        floor = median(wall[f"{name}_floor"])
        detail(
            f"{name}: floor {floor:.1f} ms = import boto3 + clients {','.join(floors[name])}; "
            f"{calls[name]} faked AWS calls in the first invocation; CPU ratio "
            f"{median(cpu[name]) / median(cpu[f'{name}_floor']):.2f}"
        )
        detail(f"  {name} wall ms per run: " + ", ".join(f"{v:.1f}" for v in wall[name]))
        detail(
            f"  {name} floor wall ms per run: "
            + ", ".join(f"{v:.1f}" for v in wall[f"{name}_floor"])
        )
    return 0 if met else 1


if __name__ == "__main__":
    # No argparse: a probe imports nothing before its clock that the function would import.
    if sys.argv[1:2] == ["--probe"]:
        floor = sys.argv[4] if sys.argv[3:4] == ["--floor"] else ""
        probe(sys.argv[2], [service for service in floor.split(",") if service])
        sys.exit(0)
    if sys.argv[1:]:
        sys.exit(f"usage: {sys.argv[0]}  (--probe NAME [--floor SERVICES] is internal)")
    sys.exit(main())
