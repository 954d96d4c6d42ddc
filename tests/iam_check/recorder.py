"""Every AWS call a handler makes, as (function, IAM action, resource ARN).

A botocore hook on every session (botocore's BUILTIN_HANDLERS, the list moto uses too, so every
client created afterwards carries it, in any thread) records each call made while a wrapped
handler runs, or what a one-line handler delegates to and tests call directly (plugin.py
DELEGATES). Attribution: the thread running a handler is that handler's; a thread started while
a handler ran (the consumer's and the fan-out's ThreadPoolExecutor workers) works for the
handler running now, else the one it was started under; other threads (the test's own, moto's
Step Functions runner, which invokes the stats Lambdas) record nothing themselves.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

from tests.iam_check.policy import ACCOUNT, REGION


@dataclass(frozen=True)
class Call:
    function: str
    service: str
    operation: str
    action: str
    resource: str


class UnmappedOperation(Exception):
    """An operation the mapping below does not know: add it (its action and resource ARN)."""


_lock = threading.Lock()
_running: dict[int, str] = {}  # thread id -> function running a handler in it
CALLS: list[Call] = []
ERRORS: list[str] = []


def current_function() -> str | None:
    """The function the calling thread works for: the handler it runs, or, for a thread started
    while a handler ran (a worker of the handler's ThreadPoolExecutor, reused by later handlers),
    the handler running now (else the one it was started under)."""
    me = threading.get_ident()
    owner: str | None = getattr(threading.current_thread(), "_iam_check_owner", None)
    with _lock:
        if me in _running:
            return _running[me]
        if owner is None:
            return None
        running = list(_running.values())
    if not running or owner in running:
        return owner
    return running[-1]


_thread_start = threading.Thread.start


def _start(self: threading.Thread) -> None:
    """Threads remember the function they were started for (moto's own threads, started by the
    test, remember none: Step Functions invoking a Lambda is not the Lambda's call)."""
    self._iam_check_owner = current_function()  # type: ignore[attr-defined]
    _thread_start(self)


def attributed(handler: Callable[..., Any], choose: Callable[[Any], str]) -> Callable[..., Any]:
    """`handler`, recording the calls it makes under the function `choose(event)` names."""

    @functools.wraps(handler)
    def run(*args: Any) -> Any:
        # (event, context); (self, event, context) for a consumer's process_batch; (self,
        # connection_id, frame) for ChatChannel.handle (one candidate: nothing to choose)
        me = threading.get_ident()
        with _lock:
            outer = _running.get(me)
            _running[me] = choose(args[-2])
        try:
            return handler(*args)
        finally:
            with _lock:
                if outer is None:
                    del _running[me]
                else:
                    _running[me] = outer

    run.__iam_check_wrapped__ = True  # type: ignore[attr-defined]
    return run


def _table(name: str) -> str:
    if name.startswith("arn:"):
        return name
    return f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{name}"


def _queue(url: str) -> str:
    return f"arn:aws:sqs:{REGION}:{ACCOUNT}:{url.rstrip('/').rsplit('/', 1)[-1]}"


def iam_targets(
    service: str, operation: str, params: dict[str, Any], url: str
) -> list[tuple[str, str]]:
    """(IAM action, resource ARN) pairs one API call is authorized against."""
    if service == "dynamodb":
        if operation in {"BatchWriteItem", "BatchGetItem"}:
            return [(f"dynamodb:{operation}", _table(t)) for t in params["RequestItems"]]
        if operation == "TransactWriteItems":
            return [
                (f"dynamodb:{kind}" if kind != "Update" else "dynamodb:UpdateItem", _table(t))
                for item in params["TransactItems"]
                for kind, body in item.items()
                for t in [body["TableName"]]
            ]
        resource = _table(params["TableName"])
        if operation in {"Query", "Scan"} and params.get("IndexName"):
            resource += f"/index/{params['IndexName']}"
        return [(f"dynamodb:{operation}", resource)]
    if service == "sqs" and operation == "ListMessageMoveTasks":
        # Authorized on the source queue (the dead-letter queue), named by ARN.
        return [(f"sqs:{operation}", params["SourceArn"])]
    if service == "sqs":
        action = {
            "SendMessageBatch": "SendMessage",
            "DeleteMessageBatch": "DeleteMessage",
            "ChangeMessageVisibilityBatch": "ChangeMessageVisibility",
        }.get(operation, operation)
        if operation == "StartMessageMoveTask":
            # SQS moves the messages as the caller: it needs the DLQ's read rights as well as the
            # task's, and SendMessage on the destination (the SQS developer guide, "DLQ redrive").
            source = _queue(params["SourceArn"].replace(":", "/"))
            targets = [
                (f"sqs:{needed}", source)
                for needed in (
                    "StartMessageMoveTask",
                    "ReceiveMessage",
                    "DeleteMessage",
                    "GetQueueAttributes",
                )
            ]
            if params.get("DestinationArn"):
                targets.append(
                    ("sqs:SendMessage", _queue(params["DestinationArn"].replace(":", "/")))
                )
            return targets
        queue = params.get("QueueUrl") or params["QueueName"]
        return [(f"sqs:{action}", _queue(queue))]
    if service == "s3":
        bucket = params["Bucket"]
        if operation in {"ListObjectsV2", "ListObjects"}:
            return [("s3:ListBucket", f"arn:aws:s3:::{bucket}")]
        action = {"HeadObject": "GetObject"}.get(operation, operation)
        return [(f"s3:{action}", f"arn:aws:s3:::{bucket}/{params['Key']}")]
    if service == "secretsmanager" and operation == "GetSecretValue":
        secret = params["SecretId"]
        if not secret.startswith("arn:"):
            secret = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:{secret}-XXXXXX"
        return [("secretsmanager:GetSecretValue", secret)]
    if service == "apigatewaymanagementapi":
        # https://{api}.execute-api.{region}.amazonaws.com/{stage}/@connections/{id}
        parts = urlsplit(url)
        api = parts.hostname.split(".", 1)[0] if parts.hostname else ""
        path = unquote(parts.path).lstrip("/")
        stage, _, rest = path.partition("/@connections/")
        method = {"PostToConnection": "POST", "DeleteConnection": "DELETE"}.get(operation, "GET")
        arn = f"arn:aws:execute-api:{REGION}:{ACCOUNT}:{api}/{stage}/{method}/@connections/{rest}"
        return [("execute-api:ManageConnections", arn)]
    if service == "pinpoint-sms-voice-v2" and operation == "SendTextMessage":
        identity = params.get("OriginationIdentity") or "*"
        if not identity.startswith("arn:"):
            identity = f"arn:aws:sms-voice:{REGION}:{ACCOUNT}:{identity}"
        return [("sms-voice:SendTextMessage", identity)]
    if service == "sns" and operation == "Publish":
        return [("sns:Publish", params.get("TopicArn") or params.get("TargetArn") or "*")]
    if service == "lambda" and operation == "Invoke":
        function = params["FunctionName"]
        if not function.startswith("arn:"):
            function = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{function}"
        return [("lambda:InvokeFunction", function)]
    if service in {"sfn", "stepfunctions"} and operation == "StartExecution":
        return [("states:StartExecution", params["stateMachineArn"])]
    raise UnmappedOperation(f"{service}.{operation}")


def _remember_params(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
    context["iam_check_params"] = dict(params)


def _record(model: Any, params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
    """`before-call`: `params` is the serialized request (its `url` names API and stage)."""
    function = current_function()
    if function is None:
        return
    service = model.service_model.service_name
    api_params = context.get("iam_check_params", {})
    try:
        targets = iam_targets(service, model.name, api_params, params.get("url", ""))
    except (UnmappedOperation, KeyError) as error:
        with _lock:
            ERRORS.append(f"{function}: no IAM mapping for {service}.{model.name} ({error!r})")
        return
    with _lock:
        CALLS.extend(Call(function, service, model.name, a, r) for a, r in targets)


_installed = False


def install() -> None:
    """Hook every botocore session created from now on (and drop boto3's cached default one)."""
    global _installed
    if _installed:
        return
    import boto3
    from botocore.handlers import BUILTIN_HANDLERS

    BUILTIN_HANDLERS.append(("before-parameter-build", _remember_params))
    BUILTIN_HANDLERS.append(("before-call", _record))
    threading.Thread.start = _start  # type: ignore[method-assign]
    boto3.DEFAULT_SESSION = None
    _installed = True
