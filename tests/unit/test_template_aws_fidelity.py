"""Real-AWS fidelity of template.yaml: what MiniStack and moto accept and AWS would not."""

from __future__ import annotations

import json
import re
import shlex
import tomllib
from pathlib import Path
from typing import Any

from tests.harness import REGION, template, template_resource, template_resources


def _statements(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["Sid"]: s for s in document["Statement"] if "Sid" in s}


def _sub_text(value: Any) -> str:
    """The format string of a `!Sub` (either form), or the plain string."""
    if isinstance(value, dict) and "Fn::Sub" in value:
        sub = value["Fn::Sub"]
        return str(sub[0] if isinstance(sub, list) else sub)
    return str(value)


# ---- item 3: service-to-service policies -------------------------------------------------


def test_the_events_key_lets_the_sms_service_use_it_only_for_this_topic() -> None:
    resources = template_resources()
    statements = _statements(resources["SmsEventsKey"]["Properties"]["KeyPolicy"])
    sms = statements["SmsServicePublishes"]
    assert sms["Principal"] == {"Service": "sms-voice.amazonaws.com"}
    condition = sms["Condition"]
    # SNS makes the KMS call; the topic ARN is the encryption context it always passes.
    assert set(condition) == {"StringEquals"}
    assert set(condition["StringEquals"]) == {"kms:EncryptionContext:aws:sns:topicArn"}
    topic_arn = _sub_text(condition["StringEquals"]["kms:EncryptionContext:aws:sns:topicArn"])
    topic_name = _sub_text(resources["SmsEventsTopic"]["Properties"]["TopicName"])
    assert topic_arn == ("arn:${AWS::Partition}:sns:${AWS::Region}:${AWS::AccountId}:" + topic_name)
    # aws:SourceAccount is not a key the service is documented to pass into SNS's KMS call.
    assert "aws:SourceAccount" not in str(sms)


def test_the_events_key_has_no_statement_for_the_sse_sqs_queue() -> None:
    resources = template_resources()
    assert resources["SmsEventsQueue"]["Properties"]["SqsManagedSseEnabled"] is True
    assert "KmsMasterKeyId" not in resources["SmsEventsQueue"]["Properties"]
    principals = [
        s["Principal"] for s in resources["SmsEventsKey"]["Properties"]["KeyPolicy"]["Statement"]
    ]
    assert {"Service": "sns.amazonaws.com"} not in principals


def test_the_topic_policy_limits_the_sms_service_to_this_accounts_configuration_sets() -> None:
    resources = template_resources()
    policy = resources["SmsEventsTopicPolicy"]["Properties"]["PolicyDocument"]
    sms = _statements(policy)["SmsServicePublishes"]
    assert sms["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    source_arn = sms["Condition"]["ArnLike"]["aws:SourceArn"]
    created, existing = source_arn["Fn::If"][1:]
    prefix = "arn:${AWS::Partition}:sms-voice:${AWS::Region}:${AWS::AccountId}:configuration-set/"
    assert source_arn["Fn::If"][0] == "CreateConfigurationSet"
    assert _sub_text(created) == prefix + "*"
    assert _sub_text(existing) == prefix + "${ConfigurationSetName}"
    assert "ConfigurationSetName" in template()["Parameters"]


# ---- item 4: deploy risks ------------------------------------------------------------------

ROOT = Path(__file__).resolve().parents[2]


def _samconfig() -> dict[str, Any]:
    config: dict[str, Any] = tomllib.loads((ROOT / "samconfig.toml").read_text())
    return config


def _environments() -> dict[str, tuple[str, str, dict[str, str]]]:
    """env -> (stack name, region, parameter overrides)."""
    envs = {}
    for env, sections in _samconfig().items():
        if not isinstance(sections, dict) or "global" not in sections:
            continue
        glob = sections["global"]["parameters"]
        text = sections.get("deploy", {}).get("parameters", {}).get("parameter_overrides", "")
        overrides = dict(item.split("=", 1) for item in shlex.split(text))
        envs[env] = (glob["stack_name"], glob["region"], overrides)
    return envs


def test_the_vpc_cidr_admits_only_blocks_that_hold_the_four_20_subnets() -> None:
    doc = template()
    pattern = re.compile(doc["Parameters"]["VpcCidr"]["AllowedPattern"])
    assert pattern.fullmatch(doc["Parameters"]["VpcCidr"]["Default"])
    for prefix in range(8, 29):
        fits = 16 <= prefix <= 18  # AWS: /16 at most; 2**(20 - prefix) >= 4
        assert bool(pattern.fullmatch(f"10.42.0.0/{prefix}")) == fits, prefix
    resources = doc["Resources"]
    subnets = [r for r in resources.values() if r["Type"] == "AWS::EC2::Subnet"]
    assert len(subnets) == 4
    for subnet in subnets:
        cidr = subnet["Properties"]["CidrBlock"]["Fn::Select"][1]["Fn::Cidr"]
        assert cidr[1:] == [4, 12]  # four /20 blocks


def test_one_samconfig_environment_per_region_sets_the_api_gateway_account() -> None:
    default = template()["Parameters"]["ConfigureApiGatewayAccount"]["Default"]
    owners: dict[str, list[str]] = {}
    for env, (_, region, overrides) in _environments().items():
        if overrides.get("ConfigureApiGatewayAccount", default) == "true":
            owners.setdefault(region, []).append(env)
    assert owners == {"ap-northeast-2": ["dev"]}


def test_schedules_have_no_fixed_name() -> None:
    # Nothing outside the stack needs them: CloudFormation names them.
    named = []
    for logical_id, resource in template_resources().items():
        if resource["Type"] == "AWS::Scheduler::Schedule" and "Name" in resource["Properties"]:
            named.append(logical_id)
        for event_id, event in resource.get("Properties", {}).get("Events", {}).items():
            if event.get("Type") == "ScheduleV2" and "Name" in event.get("Properties", {}):
                named.append(f"{logical_id}.{event_id}")
    assert named == []


NAME_PROPERTIES = {
    "Name",
    "TopicName",
    "QueueName",
    "TableName",
    "BucketName",
    "FunctionName",
    "RoleName",
    "ServerlessCacheName",
    "UserId",
    "UserGroupId",
    "LogGroupName",
}


def _sources(value: Any) -> set[str]:
    """Literal strings and the resources/parameters a property value refers to."""
    if isinstance(value, str):
        return {value}
    if isinstance(value, list):
        return set().union(*(_sources(v) for v in value)) if value else set()
    if isinstance(value, dict):
        if "Ref" in value:
            return {str(value["Ref"])}
        if "Fn::GetAtt" in value:
            return {str(value["Fn::GetAtt"][0])}
        if "Fn::If" in value:
            return _sources(value["Fn::If"][1:])
        return set().union(*(_sources(v) for v in value.values()))
    return set()


def _mentions(name: Any, source: str) -> bool:
    """The name refers to the resource or parameter, or ends in the literal value."""
    text = json.dumps(name)
    return (
        f'"{source}"' in text or f"${{{source}}}" in text or _sub_text(name).endswith(f"-{source}")
    )


def test_a_fixed_name_changes_with_every_create_only_property_that_is_set() -> None:
    # A change to a create-only property replaces the resource, and CloudFormation creates the
    # replacement before deleting the old one: with the same name, it fails "already exists".
    from cfnlint.schema.manager import PROVIDER_SCHEMA_MANAGER

    problems = []
    for logical_id, resource in template_resources().items():
        if resource["Type"].startswith("AWS::Serverless::"):
            continue
        schema = PROVIDER_SCHEMA_MANAGER.get_resource_schema(REGION, resource["Type"]).schema
        create_only = {
            p.split("/")[2] for p in schema.get("createOnlyProperties", []) if p.count("/") == 2
        }
        props = resource.get("Properties", {})
        names = {
            p: props[p]
            for p in create_only & NAME_PROPERTIES
            if p in props and (isinstance(props[p], str) or "Fn::Sub" in props[p])
        }
        for name_prop, name in names.items():
            for other in sorted(create_only - {name_prop}):
                if other in props and not any(_mentions(name, s) for s in _sources(props[other])):
                    problems.append(f"{logical_id}.{name_prop} ignores {other}")
    assert problems == []


def test_the_cache_name_follows_its_subnets_in_both_network_modes() -> None:
    name = template_resource("RedisCache")["Properties"]["ServerlessCacheName"]
    assert _mentions(name, "PrivateSubnetA")
    assert _mentions(name, "ExistingSubnetIds")
    # courier-<8 hex of the stack id>-<17 hex of the subnet id>: 34 of ElastiCache's 40
    assert _sub_text(name) == "courier-${Suffix}-${Subnet}"
    assert len("courier-") + 8 + 1 + len("0123456789abcdef0") <= 40


MAX_STACK_NAME = 45


def _global_name_suffixes() -> dict[str, str]:
    """CloudFront names (64 characters at most): logical id -> the name minus the stack name."""
    suffixes = {}
    for logical_id, resource in template_resources().items():
        props = resource.get("Properties", {})
        if resource["Type"] == "AWS::CloudFront::Function":
            name = props["Name"]
        elif resource["Type"] == "AWS::CloudFront::OriginAccessControl":
            name = props["OriginAccessControlConfig"]["Name"]
        else:
            continue
        text = _sub_text(name)
        assert text.startswith("${AWS::StackName}"), logical_id
        suffixes[logical_id] = text.removeprefix("${AWS::StackName}")
    return suffixes


def test_stack_names_up_to_the_documented_limit_fit_the_cloudfront_names() -> None:
    suffixes = _global_name_suffixes()
    assert set(suffixes) == {
        "SpaRewriteFunction",
        "WebSocketPathFunction",
        "WebOriginAccessControl",
    }
    longest = max(len(s.replace("${AWS::Region}", REGION)) for s in suffixes.values())
    assert MAX_STACK_NAME + longest <= 64
    assert MAX_STACK_NAME + longest + 1 > 64  # the documented limit is the real one
    for env, (stack, region, _) in _environments().items():
        assert len(stack) <= MAX_STACK_NAME, env
        assert region == REGION, env
    assert f"{MAX_STACK_NAME} characters" in (ROOT / "docs" / "deploy.md").read_text()


def _sqs_mapping_concurrency() -> dict[str, Any]:
    """Function logical id -> MaximumConcurrency of the SQS mapping that invokes it."""
    resources = template_resources()
    found: dict[str, Any] = {}
    for logical_id, resource in resources.items():
        if resource["Type"] == "AWS::Serverless::Function":
            events = resource.get("Properties", {}).get("Events", {}).values()
            # SAM's SQS event attaches AWSLambdaSQSQueueExecutionRole (every queue): the
            # mappings are resources of their own, with a PollQueue statement for their queue.
            assert all(e.get("Type") != "SQS" for e in events), logical_id
        if resource["Type"] != "AWS::Lambda::EventSourceMapping":
            continue
        props = resource["Properties"]
        source = props["EventSourceArn"]["Fn::GetAtt"]
        if source[1] == "StreamArn":  # a DynamoDB stream: no receive counts to protect
            continue
        assert resources[source[0]]["Type"] == "AWS::SQS::Queue", logical_id
        function = props["FunctionName"]["Ref"]
        assert function not in found, function
        found[function] = props["ScalingConfig"]["MaximumConcurrency"]
    return found


def test_sqs_consumers_reserve_their_event_source_maximum_concurrency() -> None:
    # A throttled SQS invocation counts toward maxReceiveCount: reserving what the poller may
    # start keeps other functions from taking it, so no good job is dead-lettered by throttling.
    consumers = _sqs_mapping_concurrency()
    resources = template_resources()
    for logical_id, cap in consumers.items():
        resource = resources[logical_id]
        assert resource["Properties"].get("ReservedConcurrentExecutions") == cap, logical_id
        skips = resource.get("Metadata", {}).get("checkov", {}).get("skip", [])
        assert "CKV_AWS_115" not in {s["id"] for s in skips}, logical_id
    assert set(consumers) == {
        "SmsTransactionalSenderFunction",
        "SmsBulkSenderFunction",
        "SmsStatusFunction",
        "CampaignLauncherFunction",
    }


def test_the_documented_concurrency_quota_covers_every_environment() -> None:
    params = template()["Parameters"]
    docs = (ROOT / "docs" / "deploy.md").read_text()
    for env, (_, _, overrides) in _environments().items():
        reserved = (
            int(
                overrides.get(
                    "TransactionalSenderMaxConcurrency",
                    params["TransactionalSenderMaxConcurrency"]["Default"],
                )
            )
            + int(
                overrides.get(
                    "BulkSenderMaxConcurrency", params["BulkSenderMaxConcurrency"]["Default"]
                )
            )
            + 5  # the status function
        )
        needed = reserved + 10  # Lambda keeps 10 unreserved
        assert f"| `{env}` | {reserved} | {needed} |" in docs, env


def test_function_roles_cannot_create_their_log_groups() -> None:
    resources = template_resources()
    for logical_id, resource in resources.items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        log_group = resource["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
        assert resources[log_group]["Type"] == "AWS::Logs::LogGroup", logical_id
        denies = [
            statement
            for entry in resource["Properties"]["Policies"]
            if isinstance(entry, dict) and "Statement" in entry
            for statement in entry["Statement"]
            if statement["Effect"] == "Deny"
        ]
        assert denies == [
            {
                "Sid": "NoLogGroupCreation",
                "Effect": "Deny",
                "Action": "logs:CreateLogGroup",
                "Resource": "*",
            }
        ], logical_id


# ---- item 5: what only real AWS can confirm ------------------------------------------------


def test_the_first_deploy_checklist_has_a_command_for_each_check() -> None:
    docs = (ROOT / "docs" / "deploy.md").read_text()
    checklist = docs[docs.index("## First-deploy checklist") : docs.index("## Account quotas")]
    outputs = template()["Outputs"]
    for command in (
        "aws iam simulate-principal-policy",  # the origination identity ARN scope
        "aws pinpoint-sms-voice-v2 describe-configuration-sets",  # the event destination
        "sms send",  # one real send ...
        "aws dynamodb get-item",  # ... whose status reaches DELIVERED
        "aws apigatewayv2 get-stage",  # the first AutoDeploy deployment
        "aws apigatewayv2 get-deployments",
    ):
        assert command in checklist, command
    for output in re.findall(r"\$\(out (\w+)\)", checklist):
        assert output in outputs, output
