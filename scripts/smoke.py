"""`make smoke ENV=...`: a short end-to-end check of a deployed stack, read from its outputs.

    python -m scripts.smoke --config-env dev          # the stack and region samconfig.toml names
    python -m scripts.smoke --stack courier-dev --region ap-northeast-2
    python -m scripts.smoke --config-env local --endpoint-url http://127.0.0.1:4566  # make dev

The stack's outputs and parameters come from CloudFormation (DescribeStacks). Three checks, each
printed as one `smoke <check>: ok|skipped|FAILED ...` line; all of them run, and the exit status
is 1 when any failed (2 for usage errors or a stack that cannot be read):

  sms    one job through POST /api/sms (SigV4, the API's own URL) until GET /api/sms/{job_id}
         reports SENT. Only when the stack's SmsProvider is `sandbox`, or to --sms-to /
         $SMOKE_SMS_TO (a test number the team owns: a real, billed message); otherwise skipped.
  chat   two clients with 10-minute tokens signed with the stack's chat secret buy tickets
         (POST /api/chat/tickets) and join room `smoke`; one sends, the other must receive it.
  stats  GET /api/stats/{yesterday in Seoul}: 200 with that day's numbers, or 404
         `stats_not_found` (the batch has not reported that day yet); anything else fails.

On AWS the unsigned routes and the WebSocket go through CloudFront (CloudFrontApiUrl,
WebSocketUrl), as the web page uses them. With --endpoint-url (MiniStack, `make dev`) they are
the emulator's execute-api paths. Hand-written because no library smoke-tests this stack's API;
HTTP and SigV4 go through botocore, the WebSocket through `websockets` (scripts.chat_session).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import tomllib
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Literal

from scripts.chat_session import mint_token, open_chat, request_ticket

ROOT = Path(__file__).resolve().parents[1]
SAMCONFIG = ROOT / "samconfig.toml"
SEOUL = timezone(timedelta(hours=9))  # the template's default service time zone
SANDBOX_NUMBER = "+821012345678"  # the sandbox provider sends nothing: any valid number will do
CHAT_ROOM = "smoke"
TOKEN_TTL_SECONDS = 600
SMS_TIMEOUT_SECONDS = 120.0
HTTP_TIMEOUT_SECONDS = 60
EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2

Status = Literal["ok", "skipped", "failed"]


@dataclass
class CheckResult:
    """One check's outcome; `data` names what it left in the stack (job id, room, senders)."""

    check: str
    status: Status
    detail: str
    seconds: float = 0.0
    data: dict[str, Any] = field(default_factory=dict)

    def line(self) -> str:
        word = "FAILED" if self.status == "failed" else self.status
        return f"smoke {self.check}: {word} {self.detail} ({self.seconds:.1f}s)"


@dataclass(frozen=True)
class Stack:
    name: str
    region: str
    outputs: dict[str, str]
    parameters: dict[str, str]


@dataclass(frozen=True)
class Endpoints:
    """Where the checks send requests: unsigned routes, SigV4 routes, the WebSocket."""

    public_api: str
    signed_api: str
    websocket: str

    @classmethod
    def of(cls, outputs: dict[str, str], emulator: str | None) -> Endpoints:
        if emulator is None:
            return cls(
                public_api=outputs["CloudFrontApiUrl"],
                signed_api=outputs["ApiUrl"].rstrip("/") + "/api",
                websocket=outputs["WebSocketUrl"],
            )
        # MiniStack serves every API under /_aws/execute-api/<api id>/<stage or path>.
        base = emulator.rstrip("/")
        api = f"{base}/_aws/execute-api/{outputs['HttpApiId']}/api"
        ws = base.replace("http://", "ws://", 1).replace("https://", "wss://", 1)
        chat = f"{ws}/_aws/execute-api/{outputs['ChatApiId']}/{outputs['ChatStageName']}"
        return cls(public_api=api, signed_api=api, websocket=chat)


class SmokeContext:
    """The stack under test, its endpoints and an AWS session for signing and reading it."""

    def __init__(
        self, session: Any, stack: Stack, endpoints: Endpoints, endpoint_url: str | None
    ) -> None:
        self.session = session
        self.stack = stack
        self.endpoints = endpoints
        self.endpoint_url = endpoint_url
        self.run_id = f"{datetime.now(SEOUL):%Y%m%d%H%M%S}-{uuid.uuid4().hex[:6]}"

    def client(self, service: str) -> Any:
        return self.session.client(
            service, region_name=self.stack.region, endpoint_url=self.endpoint_url
        )

    def http(
        self, method: str, url: str, *, body: Any = None, sign: bool = False
    ) -> tuple[int, Any]:
        """(status, parsed JSON body or the raw text); SigV4 for execute-api when `sign`."""
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest
        from botocore.httpsession import URLLib3Session

        data = None if body is None else json.dumps(body).encode()
        headers = {"Accept": "application/json"}
        if data is not None:
            headers["Content-Type"] = "application/json"
        request = AWSRequest(method=method, url=url, data=data, headers=headers)
        if sign:
            credentials = self.session.get_credentials().get_frozen_credentials()
            SigV4Auth(credentials, "execute-api", self.stack.region).add_auth(request)
        response = URLLib3Session(timeout=HTTP_TIMEOUT_SECONDS).send(request.prepare())
        try:
            return response.status_code, json.loads(response.content or b"null")
        except ValueError:
            return response.status_code, response.content[:300].decode(errors="replace")


# ---------------------------------------------------------------------------------------------
# The checks
# ---------------------------------------------------------------------------------------------


def check_sms(ctx: SmokeContext, sms_to: str | None) -> CheckResult:
    provider = ctx.stack.parameters.get("SmsProvider", "?")
    if provider != "sandbox" and not sms_to:
        return CheckResult(
            "sms",
            "skipped",
            f"(SmsProvider={provider} sends real messages; set SMOKE_SMS_TO to a test number "
            "the team owns to send one)",
        )
    job_id = f"smoke-{ctx.run_id}"
    job = {"job_id": job_id, "to": sms_to or SANDBOX_NUMBER, "body": f"Courier smoke {ctx.run_id}"}
    status, answer = ctx.http("POST", f"{ctx.endpoints.signed_api}/sms", body=job, sign=True)
    if status != 202:
        return CheckResult("sms", "failed", f"POST /api/sms answered {status}: {answer}")
    deadline = time.monotonic() + SMS_TIMEOUT_SECONDS
    record: Any = None
    while time.monotonic() < deadline:
        status, record = ctx.http("GET", f"{ctx.endpoints.signed_api}/sms/{job_id}", sign=True)
        state = record.get("status") if status == 200 and isinstance(record, dict) else None
        if state in ("SENT", "DELIVERED"):
            detail = f"job {job_id} {state} via {provider} ({record.get('to_masked')})"
            return CheckResult(
                "sms", "ok", detail, data={"job_id": job_id, "priority": "transactional"}
            )
        if state == "FAILED":
            return CheckResult("sms", "failed", f"job {job_id} FAILED: {record.get('reason')}")
        if status not in (200, 404):  # 404 job_not_found until the sender records it
            return CheckResult(
                "sms", "failed", f"GET /api/sms/{job_id} answered {status}: {record}"
            )
        time.sleep(1)
    return CheckResult(
        "sms", "failed", f"job {job_id} not SENT after {SMS_TIMEOUT_SECONDS:.0f}s: {record}"
    )


def check_chat(ctx: SmokeContext) -> CheckResult:
    outputs, run = ctx.stack.outputs, ctx.run_id
    sender, listener = f"smoke-sender-{run}", f"smoke-listener-{run}"
    secrets = ctx.client("secretsmanager")
    secret_arn = outputs["ChatTokenSecretArn"]
    tokens = {
        sub: mint_token(secrets, secret_arn, sub, "Smoke check", [CHAT_ROOM], TOKEN_TTL_SECONDS)
        for sub in (sender, listener)
    }
    api, ws = ctx.endpoints.public_api, ctx.endpoints.websocket
    text = f"smoke {run}"
    with (
        open_chat(ws, "listener", request_ticket(api, tokens[listener])) as heard_by,
        open_chat(ws, "sender", request_ticket(api, tokens[sender])) as said_by,
    ):
        heard_by.join(CHAT_ROOM)
        said_by.join(CHAT_ROOM)
        ack = said_by.say(CHAT_ROOM, text)
        heard = heard_by.wait_for(
            lambda f: f.get("type") == "message" and f.get("text") == text, timeout=30
        )
    if heard.get("message_id") != ack.get("message_id"):
        return CheckResult("chat", "failed", f"ack {ack} and delivered frame {heard} differ")
    detail = f"room {CHAT_ROOM}: {sender} -> {listener}, message {ack.get('message_id')}"
    return CheckResult("chat", "ok", detail, data={"room": CHAT_ROOM, "senders": [sender]})


def check_stats(ctx: SmokeContext) -> CheckResult:
    day = (datetime.now(SEOUL).date() - timedelta(days=1)).isoformat()
    status, body = ctx.http("GET", f"{ctx.endpoints.public_api}/stats/{day}")
    if status == 200 and isinstance(body, dict) and body.get("date") == day:
        return CheckResult("stats", "ok", f"{day}: {body['sms']['jobs']} SMS jobs reported")
    if status == 404 and isinstance(body, dict) and body.get("code") == "stats_not_found":
        return CheckResult("stats", "ok", f"{day}: not reported yet (404 stats_not_found)")
    return CheckResult("stats", "failed", f"GET /api/stats/{day} answered {status}: {body}")


def run_checks(ctx: SmokeContext, sms_to: str | None) -> list[CheckResult]:
    """Every check, each timed; an exception fails its check, never the ones after it."""
    checks: list[tuple[str, Callable[[], CheckResult]]] = [
        ("sms", lambda: check_sms(ctx, sms_to)),
        ("chat", lambda: check_chat(ctx)),
        ("stats", lambda: check_stats(ctx)),
    ]
    results = []
    for name, check in checks:
        started = time.monotonic()
        try:
            result = check()
        except Exception as error:  # reported as this check's failure, the next checks still run
            result = CheckResult(name, "failed", f"{type(error).__name__}: {error}")
        result.seconds = time.monotonic() - started
        print(result.line(), file=sys.stderr, flush=True)
        results.append(result)
    return results


# ---------------------------------------------------------------------------------------------
# The stack
# ---------------------------------------------------------------------------------------------


def samconfig_stack(config_env: str, path: Path = SAMCONFIG) -> tuple[str, str]:
    """(stack_name, region) of a samconfig.toml environment."""
    config = tomllib.loads(path.read_text())
    if config_env not in config:
        known = ", ".join(k for k in config if k != "version")
        raise SystemExit(f"smoke: no environment {config_env!r} in {path.name} (known: {known})")
    parameters = config[config_env].get("global", {}).get("parameters", {})
    return parameters["stack_name"], parameters["region"]


def read_stack(cloudformation: Any, name: str, region: str) -> Stack:
    described = cloudformation.describe_stacks(StackName=name)["Stacks"][0]
    status = described["StackStatus"]
    if not status.endswith("_COMPLETE") or "ROLLBACK" in status:
        raise SystemExit(f"smoke: stack {name} is {status}, not a deployed stack")
    return Stack(
        name=name,
        region=region,
        outputs={o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])},
        parameters={p["ParameterKey"]: p["ParameterValue"] for p in described["Parameters"]},
    )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m scripts.smoke", description=(__doc__ or "").splitlines()[0]
    )
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--config-env", help="a samconfig.toml environment (dev, prod, local)")
    target.add_argument("--stack", help="a stack name (with --region)")
    parser.add_argument("--region", help="the stack's region (default: samconfig's, or AWS's)")
    parser.add_argument("--endpoint-url", help="an AWS emulator (MiniStack) instead of AWS")
    parser.add_argument(
        "--sms-to",
        default=os.environ.get("SMOKE_SMS_TO") or None,
        help="a test number for the SMS check when the provider is real ($SMOKE_SMS_TO)",
    )
    parser.add_argument("--json", action="store_true", help="print the results as JSON on stdout")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    import boto3
    from botocore.exceptions import ClientError

    if args.config_env:
        name, region = samconfig_stack(args.config_env)
        region = args.region or region
    else:
        name, region = args.stack, args.region
    session = boto3.session.Session(region_name=region)
    region = session.region_name
    if region is None:
        print("smoke: no region: give --region or set AWS_DEFAULT_REGION", file=sys.stderr)
        return EXIT_USAGE
    cloudformation = session.client(
        "cloudformation", region_name=region, endpoint_url=args.endpoint_url
    )
    try:
        stack = read_stack(cloudformation, name, region)
    except ClientError as error:  # no such stack, no permission
        print(f"smoke: cannot read stack {name} in {region}: {error}", file=sys.stderr)
        return EXIT_USAGE
    endpoints = Endpoints.of(stack.outputs, args.endpoint_url)
    print(f"smoke: stack {name} in {region}, API {endpoints.public_api}", file=sys.stderr)
    ctx = SmokeContext(session, stack, endpoints, args.endpoint_url)
    results = run_checks(ctx, args.sms_to)
    failed = [r.check for r in results if r.status == "failed"]
    if args.json:
        print(json.dumps({"stack": name, "results": [asdict(r) for r in results]}, indent=2))
    print(f"smoke: {'FAILED: ' + ' '.join(failed) if failed else 'passed'}", file=sys.stderr)
    return EXIT_FAILED if failed else EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
