"""template.yaml grants each function the data-plane actions its code calls, on its resources."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.harness import template_resources

# SAM policy templates that grant one narrow action on one named resource; every other template
# (DynamoDBCrudPolicy, DynamoDBReadPolicy, SQSSendMessagePolicy, S3CrudPolicy...) grants actions
# no function here calls, so policies spell their statements out instead.
NARROW_POLICY_TEMPLATES = {
    "AWSSecretsManagerGetSecretValuePolicy",  # secretsmanager:GetSecretValue on one secret
    "LambdaInvokePolicy",  # lambda:InvokeFunction on one function
    "SNSPublishMessagePolicy",  # sns:Publish on one topic
}

# What SAM's broad templates expand to (aws-sam-translator's policy_templates.json), so that a
# function still using one shows up below as granting the actions its code never calls.
BROAD_TEMPLATE_ACTIONS = {
    "DynamoDBCrudPolicy": (
        "TableName",
        [
            "dynamodb:GetItem",
            "dynamodb:DeleteItem",
            "dynamodb:PutItem",
            "dynamodb:Scan",
            "dynamodb:Query",
            "dynamodb:UpdateItem",
            "dynamodb:BatchWriteItem",
            "dynamodb:BatchGetItem",
            "dynamodb:DescribeTable",
            "dynamodb:ConditionCheckItem",
        ],
    ),
    "DynamoDBReadPolicy": (
        "TableName",
        [
            "dynamodb:GetItem",
            "dynamodb:Scan",
            "dynamodb:Query",
            "dynamodb:BatchGetItem",
            "dynamodb:DescribeTable",
        ],
    ),
    "SQSSendMessagePolicy": ("QueueName", ["sqs:SendMessage*"]),
}

DATA_PLANE = ("dynamodb:", "sqs:", "s3:", "sns:", "execute-api:")

CONNECTIONS = "ChatApi/POST/@connections/*"
IDEMPOTENCY = {
    # courier.sms.job_claims: the claim read back, and a failed attempt's release (the claim's
    # put and the result are updates, as SmsStatusStore.record's are).
    ("dynamodb:GetItem", "SmsMessagesTable"),
    ("dynamodb:DeleteItem", "SmsMessagesTable"),
}


def poller_grants(queue: str) -> set[tuple[str, str]]:
    """What the SQS event source mapping calls with the consumer's role, on its queue only."""
    return {
        ("sqs:ReceiveMessage", queue),
        ("sqs:DeleteMessage", queue),
        ("sqs:GetQueueAttributes", queue),
    }


def sender_grants(queue: str, dead_letter_queue: str) -> set[tuple[str, str]]:
    """courier.sms.delivery / status_store / opt_out / queues, as one SMS sender calls them."""
    return (
        IDEMPOTENCY
        | poller_grants(queue)
        | {
            ("dynamodb:UpdateItem", "SmsMessagesTable"),  # SmsStatusStore.record
            ("dynamodb:GetItem", "SmsOptOutTable"),  # OptOutList.is_opted_out
            ("sqs:SendMessage", dead_letter_queue),  # SqsQueues.dead_letter
            ("sqs:SendMessage", queue),  # SqsQueues.requeue
            ("sqs:ChangeMessageVisibility", queue),  # SqsQueues.back_off
            ("sqs:GetQueueUrl", queue),  # SqsQueues.queue_url
            ("sns:Publish", "*"),  # SnsSmsProvider, to a phone number: only when SmsProvider=sns
        }
    )


EXPECTED_GRANTS: dict[str, set[tuple[str, str]]] = {
    "SmsTransactionalSenderFunction": sender_grants(
        "SmsTransactionalQueue", "SmsTransactionalDeadLetterQueue"
    ),
    "SmsBulkSenderFunction": sender_grants("SmsBulkQueue", "SmsBulkDeadLetterQueue"),
    "SmsStatusFunction": poller_grants("SmsEventsQueue")
    | {
        ("dynamodb:UpdateItem", "SmsMessagesTable"),  # SmsStatusStore.record
        ("sqs:SendMessage", "SmsEventsDeadLetterQueue"),
        ("sqs:SendMessage", "SmsEventsQueue"),  # deferred while the table is throttled
        ("sqs:GetQueueUrl", "SmsEventsQueue"),
    },
    # ChatChannel.handle: the session from the table when Redis lost it, Gone connections pruned,
    # messages appended and paged (table, not an index), replies and fan-out by POST only.
    "ChatChannelFunction": {
        ("dynamodb:GetItem", "ChatConnectionsTable"),
        ("dynamodb:DeleteItem", "ChatConnectionsTable"),
        ("dynamodb:PutItem", "ChatMessagesTable"),
        ("dynamodb:Query", "ChatMessagesTable"),
        ("execute-api:ManageConnections", CONNECTIONS),
    },
    "ChatConnectFunction": {("dynamodb:PutItem", "ChatConnectionsTable")},
    "ChatDisconnectFunction": {
        ("dynamodb:GetItem", "ChatConnectionsTable"),
        ("dynamodb:DeleteItem", "ChatConnectionsTable"),
        ("execute-api:ManageConnections", CONNECTIONS),
    },
    "ChatDefaultFunction": {("execute-api:ManageConnections", CONNECTIONS)},
    # $connect: consume the single-use ticket, check the user's revocation time.
    "ChatAuthorizerFunction": {
        ("dynamodb:DeleteItem", "ChatTicketsTable"),
        ("dynamodb:GetItem", "ChatRevocationsTable"),
    },
    # POST /api/sms (batch sends are sqs:SendMessage), GET /api/sms/{id}, /api/stats, room
    # history, connect tickets and the revocation check behind them.
    "ApiFunction": {
        ("sqs:SendMessage", "SmsTransactionalQueue"),
        ("sqs:SendMessage", "SmsBulkQueue"),
        ("dynamodb:GetItem", "SmsMessagesTable"),
        ("dynamodb:GetItem", "DailyStatsTable"),
        ("dynamodb:Query", "ChatMessagesTable"),
        ("dynamodb:PutItem", "ChatTicketsTable"),
        ("dynamodb:GetItem", "ChatRevocationsTable"),
    },
    # The admin API: jobs, the DLQs and their redrive, opt-outs, chat moderation; campaigns (the
    # launcher's queue, opt-outs checked and statuses counted in batches).
    "AdminApiFunction": {
        ("dynamodb:GetItem", "SmsMessagesTable"),
        *(
            (action, queue)
            for queue in (
                "SmsTransactionalDeadLetterQueue",
                "SmsBulkDeadLetterQueue",
                "SmsEventsDeadLetterQueue",
            )
            for action in (
                "sqs:ReceiveMessage",
                "sqs:ChangeMessageVisibility",
                "sqs:DeleteMessage",
                "sqs:GetQueueAttributes",
                "sqs:StartMessageMoveTask",
            )
        ),
        *(
            (action, queue)
            for queue in ("SmsTransactionalQueue", "SmsBulkQueue", "SmsEventsQueue")
            for action in ("sqs:SendMessage", "sqs:GetQueueAttributes")
        ),
        ("dynamodb:GetItem", "SmsOptOutTable"),
        ("dynamodb:PutItem", "SmsOptOutTable"),
        ("dynamodb:DeleteItem", "SmsOptOutTable"),
        ("dynamodb:Query", "ChatMessagesTable"),
        ("dynamodb:DeleteItem", "ChatMessagesTable"),
        ("dynamodb:GetItem", "ChatRevocationsTable"),
        ("dynamodb:PutItem", "ChatRevocationsTable"),
        ("sqs:SendMessage", "CampaignLaunchQueue"),  # SqsLaunchQueue.request
        ("dynamodb:BatchGetItem", "SmsOptOutTable"),  # OptOutList.opted_out_among
        # SmsStatusStore.statuses; jobs_by_phone_key (the page's records)
        ("dynamodb:BatchGetItem", "SmsMessagesTable"),
        ("dynamodb:Query", "SmsMessagesTable/index/by_phone"),  # jobs_by_phone_key: the keys
    },
    # The campaign launcher: its own queue (poll, continue later) and the bulk jobs it queues.
    "CampaignLauncherFunction": poller_grants("CampaignLaunchQueue")
    | {
        ("sqs:SendMessage", "CampaignLaunchQueue"),
        ("sqs:SendMessage", "SmsBulkQueue"),
    },
    # ChatChannel.sweep forgets connections by key from the Redis expiry set: no read.
    "ChatSweepFunction": {("dynamodb:DeleteItem", "ChatConnectionsTable")},
    "StatsPlanFunction": set(),
    # The SmsMessages stream's poller (this role), its OnFailure queue, and the partials:
    # a batch's days read and noted, its partials put, stale ones deleted.
    "SmsStatsCounterFunction": {
        ("dynamodb:DescribeStream", "SmsMessagesTable"),
        ("dynamodb:GetRecords", "SmsMessagesTable"),
        ("dynamodb:GetShardIterator", "SmsMessagesTable"),
        ("dynamodb:ListStreams", "*"),
        ("sqs:SendMessage", "SmsStatsCounterFailureQueue"),
        ("dynamodb:GetItem", "SmsStatsPartialsTable"),
        ("dynamodb:PutItem", "SmsStatsPartialsTable"),
        ("dynamodb:DeleteItem", "SmsStatsPartialsTable"),
    },
    # The SMS day: the stream counter's partials; chat: one day-shard of its index.
    "StatsAggregateFunction": {
        ("dynamodb:Query", "SmsStatsPartialsTable"),
        ("dynamodb:Query", "ChatMessagesTable/index/by_day_shard"),
        ("s3:PutObject", "StatsReportsBucket/partials/*"),
    },
    "StatsPublishFunction": {
        ("s3:GetObject", "StatsReportsBucket/partials/*"),
        ("s3:ListBucket", "StatsReportsBucket"),  # a missing partial answers 404, not 403
        ("s3:PutObject", "StatsReportsBucket/reports/*"),
        ("dynamodb:PutItem", "DailyStatsTable"),
    },
}


def policy_entries(props: dict[str, Any]) -> Iterator[tuple[str | None, Any]]:
    """(condition, entry) for each Policies entry; an `Fn::If` yields the branch it guards."""
    for entry in props.get("Policies", []):
        if isinstance(entry, dict) and "Fn::If" in entry:
            condition, when_true, when_false = entry["Fn::If"]
            for branch, guard in ((when_true, condition), (when_false, f"!{condition}")):
                if branch != {"Ref": "AWS::NoValue"}:
                    yield guard, branch
        else:
            yield None, entry


def statements(resource: dict[str, Any]) -> Iterator[tuple[str | None, dict[str, Any]]]:
    """(condition, statement) for each inline statement of a SAM resource or an IAM resource."""
    props = resource.get("Properties", {})
    if resource["Type"].startswith("AWS::Serverless::"):
        for condition, entry in policy_entries(props):
            if isinstance(entry, dict) and "Statement" in entry:
                for statement in listed(entry["Statement"]):
                    yield condition, statement
        return
    documents = [policy["PolicyDocument"] for policy in props.get("Policies", [])]
    documents += [props["PolicyDocument"]] if "PolicyDocument" in props else []
    for document in documents:
        for statement in listed(document.get("Statement", [])):
            yield resource.get("Condition"), statement


def listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def target(resource: Any) -> str:
    """The resource a statement names, as `LogicalId[/suffix]` (or the literal string)."""
    if isinstance(resource, str):
        return resource
    if "Fn::GetAtt" in resource:
        name = resource["Fn::GetAtt"]
        return str(name[0] if isinstance(name, list) else name.split(".")[0])
    if "Ref" in resource:
        return str(resource["Ref"])
    if "Fn::Sub" in resource:
        text = resource["Fn::Sub"]
        text = text[0] if isinstance(text, list) else text
        if text.startswith("${") and ".Arn}" in text:
            name, _, rest = text[2:].partition(".Arn}")
            return name + rest
        if "@connections" in text:
            # arn:...:execute-api:region:account:${ChatApi}/${ChatStageName}/POST/@connections/*
            api = text.split(":")[-1]
            return api.replace("${", "").replace("}", "").replace("/ChatStageName", "")
        return str(text)
    raise AssertionError(f"unexpected resource form {resource!r}")


def granted(resource: dict[str, Any]) -> set[tuple[str, str]]:
    """(action, target) pairs of the data-plane services, SAM's broad templates expanded."""
    pairs: set[tuple[str, str]] = set()
    for _, entry in policy_entries(resource.get("Properties", {})):
        if isinstance(entry, dict):
            for name, (key, actions) in BROAD_TEMPLATE_ACTIONS.items():
                if name in entry:
                    pairs |= {(action, target(entry[name][key])) for action in actions}
    for _, statement in statements(resource):
        if statement.get("Effect") != "Allow":
            continue
        for action in listed(statement["Action"]):
            if action.startswith(DATA_PLANE):
                pairs |= {(action, target(r)) for r in listed(statement["Resource"])}
    return pairs


@pytest.fixture(scope="module")
def resources() -> dict[str, Any]:
    return template_resources()


def principals(resources: dict[str, Any]) -> dict[str, dict[str, Any]]:
    kinds = {
        "AWS::Serverless::Function",
        "AWS::Serverless::StateMachine",
        "AWS::IAM::Role",
        "AWS::IAM::Policy",
        "AWS::IAM::ManagedPolicy",
    }
    return {name: r for name, r in resources.items() if r["Type"] in kinds}


def test_no_policy_uses_a_broad_sam_policy_template(resources: dict[str, Any]) -> None:
    broad = sorted(
        f"{name}: {key}"
        for name, resource in principals(resources).items()
        for _, entry in policy_entries(resource.get("Properties", {}))
        if isinstance(entry, dict) and "Statement" not in entry and "PolicyDocument" not in entry
        for key in entry
        if key not in NARROW_POLICY_TEMPLATES
    )
    assert broad == []


def test_no_managed_policy_is_attached_by_name(resources: dict[str, Any]) -> None:
    named = sorted(
        name
        for name, resource in principals(resources).items()
        if resource["Type"].startswith("AWS::Serverless::")
        for _, entry in policy_entries(resource.get("Properties", {}))
        if isinstance(entry, str)
    )
    assert named == []


@pytest.mark.parametrize("function", sorted(EXPECTED_GRANTS))
def test_each_function_gets_exactly_what_its_code_calls(
    resources: dict[str, Any], function: str
) -> None:
    assert granted(resources[function]) == EXPECTED_GRANTS[function]


def test_sns_publish_on_any_resource_only_for_the_sns_sms_provider(
    resources: dict[str, Any],
) -> None:
    # Direct-to-phone SMS through SNS has no topic ARN to scope to; nothing else may need "*".
    unscoped = sorted(
        (name, condition)
        for name, resource in principals(resources).items()
        for condition, statement in statements(resource)
        if statement.get("Effect") == "Allow"
        and any(a in {"sns:Publish", "sns:*", "*"} for a in listed(statement["Action"]))
        and "*" in listed(statement["Resource"])
    )
    assert unscoped == [
        ("SmsBulkSenderFunction", "IsSnsProvider"),
        ("SmsTransactionalSenderFunction", "IsSnsProvider"),
    ]


def test_sending_through_end_user_messaging_is_granted_only_with_that_provider(
    resources: dict[str, Any],
) -> None:
    granted_where = sorted(
        (name, condition)
        for name, resource in principals(resources).items()
        for condition, statement in statements(resource)
        if statement.get("Effect") == "Allow"
        and "sms-voice:SendTextMessage" in listed(statement["Action"])
    )
    assert granted_where == [
        ("SmsBulkSenderFunction", "IsEndUserMessaging"),
        ("SmsTransactionalSenderFunction", "IsEndUserMessaging"),
    ]


def test_no_statement_grants_a_wildcard_action(resources: dict[str, Any]) -> None:
    wildcards = sorted(
        (name, action)
        for name, resource in principals(resources).items()
        for _, statement in statements(resource)
        if statement.get("Effect") == "Allow"
        for action in listed(statement["Action"])
        if action == "*" or action.endswith(":*")
    )
    assert wildcards == []


PHONE_KEY_READERS = {"SmsTransactionalSenderFunction", "SmsBulkSenderFunction", "AdminApiFunction"}


def test_only_the_senders_and_the_admin_api_read_the_phone_lookup_key(
    resources: dict[str, Any],
) -> None:
    """Given the template, when the roles granting GetSecretValue on PhoneLookupKeySecret are
    listed, then they are exactly the record writers and the lookup, each told the secret's ARN."""
    readers = {
        name
        for name, resource in principals(resources).items()
        for _, statement in statements(resource)
        if statement.get("Effect") == "Allow"
        and "secretsmanager:GetSecretValue" in listed(statement["Action"])
        and {"Ref": "PhoneLookupKeySecret"} in listed(statement["Resource"])
    }
    assert readers == PHONE_KEY_READERS
    for name in PHONE_KEY_READERS:
        variables = resources[name]["Properties"]["Environment"]["Variables"]
        assert variables["SMS_PHONE_KEY_SECRET_ARN"] == {"Ref": "PhoneLookupKeySecret"}
    generated = resources["PhoneLookupKeySecret"]["Properties"]["GenerateSecretString"]
    assert generated["GenerateStringKey"] == "key"
    assert generated["PasswordLength"] >= 32


def test_the_sms_stream_is_read_only_by_the_counter_which_never_sees_removes(
    resources: dict[str, Any],
) -> None:
    """Given the template, then SmsMessages streams old and new images to one mapping: the
    counter's, which keeps INSERT and MODIFY only (TTL expiry must not subtract), retries a
    bounded number of times with bisection, one batch per shard at a time, and parks what it
    gives up on in its failure queue."""
    table = resources["SmsMessagesTable"]["Properties"]
    assert table["StreamSpecification"] == {"StreamViewType": "NEW_AND_OLD_IMAGES"}
    assert "by_day_shard" not in {i["IndexName"] for i in table["GlobalSecondaryIndexes"]}
    assert "day_shard" not in {a["AttributeName"] for a in table["AttributeDefinitions"]}
    mappings = {
        name: r["Properties"]
        for name, r in resources.items()
        if r["Type"] == "AWS::Lambda::EventSourceMapping"
        and r["Properties"]["EventSourceArn"] == {"Fn::GetAtt": ["SmsMessagesTable", "StreamArn"]}
    }
    assert list(mappings) == ["SmsStatsCounterStream"]
    mapping = mappings["SmsStatsCounterStream"]
    assert mapping["FunctionName"] == {"Ref": "SmsStatsCounterFunction"}
    assert mapping["FilterCriteria"] == {
        "Filters": [{"Pattern": '{"eventName": ["INSERT", "MODIFY"]}'}]
    }
    assert mapping["BisectBatchOnFunctionError"] is True
    assert 0 < mapping["MaximumRetryAttempts"] <= 10
    assert mapping["ParallelizationFactor"] == 1
    assert 0 < mapping["MaximumBatchingWindowInSeconds"] <= 60
    assert mapping["MaximumRecordAgeInSeconds"] < 24 * 3600  # the stream's retention
    assert mapping["DestinationConfig"]["OnFailure"]["Destination"] == {
        "Fn::GetAtt": ["SmsStatsCounterFailureQueue", "Arn"]
    }
    partials = resources["SmsStatsPartialsTable"]["Properties"]
    assert partials["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}


def test_the_by_phone_index_is_keys_only_on_the_keyed_hash_and_creation_time(
    resources: dict[str, Any],
) -> None:
    """Given the SmsMessages table, then `by_phone` is keyed (phone_key, sk_time) and projects
    keys only: a status change touches none of them, so it costs one index write per job."""
    indexes = {
        index["IndexName"]: index
        for index in resources["SmsMessagesTable"]["Properties"]["GlobalSecondaryIndexes"]
    }
    by_phone = indexes["by_phone"]
    assert [(k["AttributeName"], k["KeyType"]) for k in by_phone["KeySchema"]] == [
        ("phone_key", "HASH"),
        ("sk_time", "RANGE"),
    ]
    assert by_phone["Projection"] == {"ProjectionType": "KEYS_ONLY"}
