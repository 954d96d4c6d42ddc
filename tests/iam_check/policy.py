"""Each function's role from the translated template, intrinsics resolved; allow/deny decisions.

Resources resolve to the names the integration tests give them (`PHYSICAL`), so a recorded call
and a statement name one resource with one ARN. Statement `Condition` blocks are not evaluated
(a statement with one counts as granting): none of the function roles uses them.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import tempfile
import tomllib
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from functools import cache
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
REGION = "ap-northeast-2"
ACCOUNT = "123456789012"
SAM_PYTHON = ROOT / ".tools" / "sam" / "bin" / "python"

# Logical id -> the physical name the integration tests create (tests/harness.py, conftest.py).
PHYSICAL = {
    "SmsMessagesTable": "SmsMessages",
    "SmsOptOutTable": "SmsOptOuts",
    "ChatConnectionsTable": "ChatConnections",
    "ChatMessagesTable": "ChatMessages",
    "ChatTicketsTable": "ChatTickets",
    "ChatRevocationsTable": "ChatRevocations",
    "DailyStatsTable": "DailyStats",
    "SmsStatsPartialsTable": "SmsStatsPartials",
    "SmsStatsCounterFailureQueue": "courier-sms-stats-counter-failures",
    "SmsTransactionalQueue": "courier-sms-transactional",
    "SmsTransactionalDeadLetterQueue": "courier-sms-transactional-dlq",
    "SmsBulkQueue": "courier-sms-bulk",
    "SmsBulkDeadLetterQueue": "courier-sms-bulk-dlq",
    "SmsEventsQueue": "courier-sms-events",
    "SmsEventsDeadLetterQueue": "courier-sms-events-dlq",
    "CampaignLaunchQueue": "courier-campaign-launch",
    "CampaignLaunchDeadLetterQueue": "courier-campaign-launch-dlq",
    "StatsReportsBucket": "courier-stats-reports-test",
    "ChatApi": "a1b2c3d4e5",
}

PSEUDO = {
    "AWS::Region": REGION,
    "AWS::AccountId": ACCOUNT,
    "AWS::Partition": "aws",
    "AWS::URLSuffix": "amazonaws.com",
    "AWS::StackName": "courier",
    "AWS::StackId": f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/courier/0",
}


class NoValue:
    """`Ref: AWS::NoValue`: the property or list item is dropped."""


NO_VALUE = NoValue()


def physical(logical_id: str) -> str:
    return PHYSICAL.get(logical_id, logical_id)


def ref(logical_id: str, resource_type: str) -> str:
    """What `Ref` returns for a resource, named as the tests name it."""
    name = physical(logical_id)
    if resource_type == "AWS::SQS::Queue":
        return f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{name}"
    if resource_type == "AWS::SecretsManager::Secret":
        # A secret's ARN ends in "-" and six random characters (moto's too): matched by "?"s.
        return f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:{name}-??????"
    if resource_type == "AWS::SNS::Topic":
        return f"arn:aws:sns:{REGION}:{ACCOUNT}:{name}"
    if resource_type == "AWS::StepFunctions::StateMachine":
        return f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{name}"
    return name


def arn(logical_id: str, resource_type: str) -> str:
    """`Fn::GetAtt X.Arn` for the resource types the roles name."""
    name = physical(logical_id)
    by_type = {
        "AWS::DynamoDB::Table": f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{name}",
        "AWS::SQS::Queue": f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}",
        "AWS::S3::Bucket": f"arn:aws:s3:::{name}",
        "AWS::Lambda::Function": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}",
        "AWS::SNS::Topic": f"arn:aws:sns:{REGION}:{ACCOUNT}:{name}",
        "AWS::KMS::Key": f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{name}",
        "AWS::IAM::Role": f"arn:aws:iam::{ACCOUNT}:role/{name}",
    }
    return by_type.get(resource_type, f"arn:aws:{resource_type}:{REGION}:{ACCOUNT}:{name}")


# RDS attributes the roles build ARNs from, in the form AWS returns them: the proxy's ARN ends in
# its resource id (prx-...), which names the proxy in an rds-db:connect ARN, as the cluster's
# resource id (cluster-...) names the cluster; the master secret is one RDS creates.
RDS_ATTRIBUTES = {
    ("AWS::RDS::DBProxy", "DBProxyArn"): lambda name: (
        f"arn:aws:rds:{REGION}:{ACCOUNT}:db-proxy:prx-{name.lower()}"
    ),
    ("AWS::RDS::DBCluster", "DBClusterResourceId"): lambda name: f"cluster-{name.upper()}",
    ("AWS::RDS::DBCluster", "MasterUserSecret.SecretArn"): lambda name: (
        f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:rds!cluster-{name.lower()}-??????"
    ),
}


@dataclass
class Resolver:
    """Ref/GetAtt/Sub/Join/If/Select/Split/Equals/And/Or/Not with the parameters given."""

    template: dict[str, Any]
    parameters: dict[str, str]
    _conditions: dict[str, bool] = field(default_factory=dict)

    def __post_init__(self) -> None:
        values = {
            name: str(spec.get("Default", ""))
            for name, spec in self.template.get("Parameters", {}).items()
        }
        values.update(self.parameters)
        self.parameters = values

    def condition(self, name: str) -> bool:
        if name not in self._conditions:
            self._conditions[name] = bool(self.resolve(self.template["Conditions"][name]))
        return self._conditions[name]

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            items = [self.resolve(item) for item in value]
            return [item for item in items if item is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, arg),) = value.items()
            if key == "Ref" or key.startswith("Fn::") or key == "Condition":
                return self.intrinsic(key, arg)
        items = {k: self.resolve(v) for k, v in value.items()}
        return {k: v for k, v in items.items() if v is not NO_VALUE}

    def resource_type(self, logical_id: str) -> str:
        return str(self.template["Resources"][logical_id]["Type"])

    def intrinsic(self, key: str, arg: Any) -> Any:
        if key == "Ref":
            if arg == "AWS::NoValue":
                return NO_VALUE
            if arg in PSEUDO:
                return PSEUDO[arg]
            if arg in self.parameters:
                return self.parameters[arg]
            return ref(arg, self.resource_type(arg))
        if key == "Condition":
            return self.condition(arg)
        if key == "Fn::GetAtt":
            name, attribute = arg if isinstance(arg, list) else arg.split(".", 1)
            return self.get_att(name, attribute)
        if key == "Fn::Sub":
            text, variables = (arg, {}) if isinstance(arg, str) else arg
            variables = {k: self.resolve(v) for k, v in variables.items()}
            return re.sub(r"\$\{([^}!]+)\}", lambda m: str(self.sub(m.group(1), variables)), text)
        if key == "Fn::Join":
            separator, items = arg
            return separator.join(str(item) for item in self.resolve(items))
        if key == "Fn::Split":
            separator, text = arg
            return str(self.resolve(text)).split(separator)
        if key == "Fn::Select":
            index, items = arg
            return self.resolve(items)[int(self.resolve(index))]
        if key == "Fn::If":
            name, when_true, when_false = arg
            return self.resolve(when_true if self.condition(name) else when_false)
        if key == "Fn::Equals":
            left, right = (self.resolve(item) for item in arg)
            return str(left) == str(right)
        if key == "Fn::Not":
            return not self.resolve(arg[0])
        if key == "Fn::And":
            return all(self.resolve(item) for item in arg)
        if key == "Fn::Or":
            return any(self.resolve(item) for item in arg)
        if key == "Fn::FindInMap":
            mapping, top, second = (self.resolve(item) for item in arg)
            return self.template["Mappings"][mapping][top][second]
        raise ValueError(f"unsupported intrinsic {key}: {arg!r}")

    def sub(self, name: str, variables: dict[str, Any]) -> Any:
        if name in variables:
            return variables[name]
        if "." in name:
            logical_id, attribute = name.split(".", 1)
            return self.get_att(logical_id, attribute)
        return self.intrinsic("Ref", name)

    def get_att(self, logical_id: str, attribute: str) -> str:
        if attribute == "Arn":
            return arn(logical_id, self.resource_type(logical_id))
        if attribute == "StreamArn":  # a table's stream (its label: the time it was enabled)
            return f"{arn(logical_id, self.resource_type(logical_id))}/stream/*"
        if (self.resource_type(logical_id), attribute) in RDS_ATTRIBUTES:
            return RDS_ATTRIBUTES[self.resource_type(logical_id), attribute](physical(logical_id))
        return f"{physical(logical_id)}.{attribute}"


@dataclass(frozen=True)
class Statement:
    effect: str
    actions: tuple[str, ...]
    resources: tuple[str, ...]
    sid: str = ""


def listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


# The AWS managed policies SAM attaches to function roles, as AWS publishes them (AWS Managed
# Policy reference; versions noted). An ARN not listed here fails the check rather than pass
# unexamined.
_LOGS = ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"]
# What Lambda calls to give a function in a VPC its network interfaces.
ENI_ACTIONS = (
    "ec2:CreateNetworkInterface",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeSubnets",
    "ec2:DeleteNetworkInterface",
    "ec2:AssignPrivateIpAddresses",
    "ec2:UnassignPrivateIpAddresses",
)
MANAGED_POLICIES: dict[str, list[dict[str, Any]]] = {
    # v1
    "service-role/AWSLambdaBasicExecutionRole": [
        {"Effect": "Allow", "Action": _LOGS, "Resource": "*"}
    ],
    # v3 (2024-01-05)
    "service-role/AWSLambdaVPCAccessExecutionRole": [
        {
            "Effect": "Allow",
            "Action": [*_LOGS, *ENI_ACTIONS],
            "Resource": "*",
        }
    ],
    # What SAM's SQS event attaches: receive/delete on every queue in the account.
    "service-role/AWSLambdaSQSQueueExecutionRole": [
        {
            "Effect": "Allow",
            "Action": [
                "sqs:ReceiveMessage",
                "sqs:DeleteMessage",
                "sqs:GetQueueAttributes",
                *_LOGS,
            ],
            "Resource": "*",
        }
    ],
    "AWSXrayWriteOnlyAccess": [
        {
            "Effect": "Allow",
            "Action": [
                "xray:PutTraceSegments",
                "xray:PutTelemetryRecords",
                "xray:GetSamplingRules",
                "xray:GetSamplingTargets",
                "xray:GetSamplingStatisticSummaries",
            ],
            "Resource": "*",
        }
    ],
}


def managed_policy(arn_text: str) -> dict[str, Any]:
    name = arn_text.split(":policy/", 1)[-1]
    if name not in MANAGED_POLICIES:
        raise ValueError(f"managed policy {arn_text} is not in MANAGED_POLICIES: add its document")
    return {"Statement": [dict(s, Sid=name.rsplit("/", 1)[-1]) for s in MANAGED_POLICIES[name]]}


def role_statements(template: dict[str, Any], resolver: Resolver, role_id: str) -> list[Statement]:
    """Statements of a role: its managed policies, its inline policies, and IAM policies that
    attach to it, conditions applied."""
    documents: list[Any] = []
    role = template["Resources"][role_id]
    for managed in resolver.resolve(role["Properties"].get("ManagedPolicyArns", [])):
        documents.append(managed_policy(managed))
    for policy in resolver.resolve(role["Properties"].get("Policies", [])):
        documents.append(policy["PolicyDocument"])
    for resource in template["Resources"].values():
        if resource["Type"] not in {"AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"}:
            continue
        if "Condition" in resource and not resolver.condition(resource["Condition"]):
            continue
        roles = resource["Properties"].get("Roles", [])
        if {"Ref": role_id} in roles:
            documents.append(resolver.resolve(resource["Properties"]["PolicyDocument"]))
    return [
        Statement(
            effect=statement["Effect"],
            actions=tuple(listed(statement["Action"])),
            resources=tuple(listed(statement["Resource"])),
            sid=statement.get("Sid", ""),
        )
        for document in documents
        for statement in listed(resolver.resolve(document)["Statement"])
    ]


def matches(pattern: str, value: str) -> bool:
    """IAM wildcard matching (`*` any run, `?` one character; actions case-insensitively)."""
    return fnmatchcase(value, pattern.replace("[", "[[]"))


def decide(statements: list[Statement], action: str, resource: str) -> str:
    """`allow`, `deny` (an explicit Deny) or "implicit-deny", as IAM evaluates one role."""
    hits = [
        s
        for s in statements
        if any(matches(a.lower(), action.lower()) for a in s.actions)
        and any(matches(r, resource) for r in s.resources)
    ]
    if any(s.effect == "Deny" for s in hits):
        return "deny"
    return "allow" if any(s.effect == "Allow" for s in hits) else "implicit-deny"


def samconfig_parameters(environment: str) -> dict[str, str]:
    """parameter_overrides of one samconfig.toml environment."""
    config = tomllib.loads((ROOT / "samconfig.toml").read_text())
    overrides = config[environment].get("deploy", {}).get("parameters", {})
    text = overrides.get("parameter_overrides", "")
    return dict(item.split("=", 1) for item in text.split())


def template_path() -> Path:
    """template.yaml, or the copy IAM_CHECK_TEMPLATE names (to see the check fail on purpose)."""
    return Path(os.environ.get("IAM_CHECK_TEMPLATE") or ROOT / "template.yaml")


@cache
def translated(parameters_json: str) -> dict[str, Any]:
    """template.yaml through the SAM translator (`.tools/sam`: its pydantic pin clashes with the
    app's, so it cannot live in .venv).

    The JSON is kept in the temp directory under a digest of everything that shapes it (template,
    translate.py, the parameters, the SAM CLI install), so the pytest-xdist workers and the
    controller of one run translate once between them (about 3 s of CPU each time)."""
    if not SAM_PYTHON.exists():
        raise RuntimeError(f"IAM check needs the SAM translator in {SAM_PYTHON} (run `make tools`)")
    script = Path(__file__).with_name("translate.py")
    template = template_path()
    digest = hashlib.sha256()
    for part in (template.read_bytes(), script.read_bytes(), parameters_json.encode()):
        digest.update(hashlib.sha256(part).digest())
    # The SAM CLI's stamp names its version (.tools/sam/.installed-<version>).
    for stamp in sorted(SAM_PYTHON.parents[1].glob(".installed-*")):
        digest.update(stamp.name.encode())
    cached = Path(tempfile.gettempdir()) / f"courier-iam-check-{digest.hexdigest()[:32]}.json"
    if cached.exists():
        data: dict[str, Any] = json.loads(cached.read_text())
        return data
    result = subprocess.run(
        [str(SAM_PYTHON), str(script), str(template)],
        input=parameters_json,
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "AWS_DEFAULT_REGION": REGION},
    )
    data = json.loads(result.stdout)
    # Written whole, then renamed: a reader in another worker never sees half a file.
    partial = cached.with_name(f"{cached.name}.{os.getpid()}.partial")
    partial.write_text(result.stdout)
    partial.replace(cached)
    return data


def function_roles(parameters: dict[str, str]) -> dict[str, list[Statement]]:
    """Function logical id -> the statements of its role, for one parameter set.

    One translation serves every parameter set: SAM keeps `Fn::If` and parameter references in
    the policies it writes, so they are resolved here for each set.
    """
    template = translated("{}")
    resolver = Resolver(template, dict(parameters))
    roles: dict[str, list[Statement]] = {}
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] != "AWS::Lambda::Function":
            continue
        role = resource["Properties"]["Role"]["Fn::GetAtt"]
        role_id = role[0] if isinstance(role, list) else role.split(".")[0]
        roles[logical_id] = role_statements(template, resolver, role_id)
    return roles


def handler_functions() -> dict[str, list[str]]:
    """`module.handler` -> the functions running it (two SMS senders share one handler)."""
    handlers: dict[str, list[str]] = {}
    for logical_id, resource in translated("{}")["Resources"].items():
        if resource["Type"] == "AWS::Lambda::Function":
            handlers.setdefault(resource["Properties"]["Handler"], []).append(logical_id)
    return handlers


def event_sources() -> dict[str, str]:
    """Event source (queue) ARN -> the function its mapping invokes."""
    template = translated("{}")
    resolver = Resolver(template, {})
    sources: dict[str, str] = {}
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::Lambda::EventSourceMapping":
            props = resource["Properties"]
            sources[resolver.resolve(props["EventSourceArn"])] = props["FunctionName"]["Ref"]
    return sources


# The parameter sets each recorded call is checked under: every samconfig environment, and the
# template's defaults with each SmsProvider.
def parameter_sets() -> dict[str, dict[str, str]]:
    config = tomllib.loads((ROOT / "samconfig.toml").read_text())
    sets = {f"samconfig {env}": samconfig_parameters(env) for env in config if env != "version"}
    for provider in ("end-user-messaging", "sns", "sandbox"):
        sets[f"SmsProvider={provider}"] = {"SmsProvider": provider}
    return sets


# Calls only one provider makes; checked only where the parameters select that provider.
PROVIDER_ACTIONS = {
    "sms-voice:SendTextMessage": "end-user-messaging",
    "sns:Publish": "sns",
}


def applies(action: str, parameters: dict[str, str], defaults: dict[str, Any]) -> bool:
    provider = parameters.get("SmsProvider", str(defaults["SmsProvider"].get("Default")))
    return PROVIDER_ACTIONS.get(action, provider) == provider
