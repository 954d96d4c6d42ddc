"""Real-AWS fidelity of template.yaml: what MiniStack and moto accept and AWS would not."""

from __future__ import annotations

from typing import Any

from tests.harness import template, template_resources


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
