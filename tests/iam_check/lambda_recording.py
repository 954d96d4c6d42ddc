"""The e2e side: record the deployed functions' AWS calls inside the local runtime, and map them.

`ministack_env()` makes every function worker MiniStack starts load `lambda_site/sitecustomize`,
which appends each call to a JSON Lines file. `collect()` reads those files at the end of the
suite and turns each line into a `Call` named as the integration suite names things: the worker's
function name becomes its logical id, and every physical name the stack gave a resource (table,
queue URL, bucket, secret, topic, API id) becomes the name `policy.ref` gives that resource, so
one role resolution checks calls from both suites.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from tests.iam_check.policy import ACCOUNT, REGION, ref
from tests.iam_check.recorder import Call, UnmappedOperation, iam_targets

SITE = Path(__file__).with_name("lambda_site")
MINISTACK_ACCOUNT = "000000000000"
_LOCAL_CONNECTIONS = re.compile(
    r"^https?://[^/]+/_aws/execute-api/([^/]+)/([^/]+)/(@connections/.*)$"
)


def ministack_env(record_dir: Path) -> dict[str, str]:
    """Environment for MiniStack (inherited by its function workers) that turns recording on."""
    paths = [str(SITE), *filter(None, [os.environ.get("PYTHONPATH")])]
    return {"PYTHONPATH": os.pathsep.join(paths), "IAM_CHECK_RECORD_DIR": str(record_dir)}


def _renames(
    resources: list[dict[str, Any]],
) -> tuple[dict[str, str], list[tuple[str, str]], list[tuple[str, str]]]:
    """Function physical name -> logical id; (physical, canonical) pairs for request
    parameters; and for URLs (API ids are short: replaced only in the @connections URL)."""
    functions: dict[str, str] = {}
    pairs: list[tuple[str, str]] = []
    apis: list[tuple[str, str]] = []
    for resource in resources:
        logical, physical, kind = (
            resource["LogicalResourceId"],
            resource.get("PhysicalResourceId") or "",
            resource["ResourceType"],
        )
        if not physical:
            continue
        if kind == "AWS::Lambda::Function":
            functions[physical] = logical
            continue
        if kind == "AWS::ApiGatewayV2::Api":
            apis.append((f"//{physical}.", f"//{ref(logical, kind)}."))
            continue
        canonical = ref(logical, kind)
        if kind == "AWS::SQS::Queue":
            pairs.append((physical.rstrip("/").rsplit("/", 1)[-1], canonical.rsplit("/", 1)[-1]))
        elif kind == "AWS::SecretsManager::Secret":
            canonical = canonical.replace("??????", "XXXXXX")
            pairs.append((physical, canonical))
            pairs.append((physical.rsplit(":", 1)[-1], canonical))
        elif kind in {
            "AWS::DynamoDB::Table",
            "AWS::S3::Bucket",
            "AWS::SNS::Topic",
            "AWS::StepFunctions::StateMachine",
        }:
            pairs.append((physical, canonical))
    # Longest first, so a name that contains another is replaced whole.
    pairs.sort(key=lambda pair: len(pair[0]), reverse=True)
    return functions, pairs, apis


def _canonical(text: str, pairs: list[tuple[str, str]]) -> str:
    for physical, canonical in pairs:
        text = text.replace(physical, canonical)
    return text.replace(f":{MINISTACK_ACCOUNT}:", f":{ACCOUNT}:").replace(
        f"/{MINISTACK_ACCOUNT}/", f"/{ACCOUNT}/"
    )


def collect(record_dir: Path, resources: list[dict[str, Any]]) -> tuple[list[Call], list[str]]:
    """Calls recorded under `record_dir`, renamed; and one error line per unmappable call."""
    functions, pairs, apis = _renames(resources)
    calls: list[Call] = []
    errors: list[str] = []
    for path in sorted(record_dir.glob("*.jsonl")):
        for line in path.read_text().splitlines():
            entry = json.loads(line)
            function = functions.get(entry["function"])
            if function is None:
                errors.append(f"{entry['function']}: not a function of the local stack")
                continue
            url = entry["url"]
            local = _LOCAL_CONNECTIONS.match(url)
            if local:
                api, stage, rest = local.groups()
                url = f"https://{api}.execute-api.{REGION}.amazonaws.com/{stage}/{rest}"
            params = json.loads(_canonical(json.dumps(entry["params"]), pairs))
            url = _canonical(url, apis + pairs)
            service, operation = entry["service"], entry["operation"]
            try:
                targets = iam_targets(service, operation, params, url)
            except (UnmappedOperation, KeyError) as error:
                errors.append(f"{function}: no IAM mapping for {service}.{operation} ({error!r})")
                continue
            calls.extend(Call(function, service, operation, a, r) for a, r in targets)
    return calls, errors
