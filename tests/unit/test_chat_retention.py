"""Chat message retention as deployed: the table's TTL, the parameter, the functions' setting."""

from __future__ import annotations

from typing import Any

from courier.settings import Settings
from tests.harness import template


def test_chat_messages_expire_on_the_attribute_the_store_writes() -> None:
    # Given the template / When its ChatMessages table is read
    table = template()["Resources"]["ChatMessagesTable"]["Properties"]
    # Then DynamoDB's TTL is on `expires_at`, the attribute MessageStore.append writes
    assert table["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}


def test_the_retention_parameter_reaches_every_function_that_builds_the_message_store() -> None:
    # Given the template
    decoded = template()
    parameter = decoded["Parameters"]["ChatMessageRetentionDays"]
    # Then the retention is a parameter of 365 days by default
    assert (parameter["Type"], parameter["Default"], parameter["MinValue"]) == ("Number", 365, 1)
    # And every chat function that names the messages table gets it as its setting
    writers = {
        name: resource["Properties"]["Environment"]["Variables"]
        for name, resource in decoded["Resources"].items()
        if resource["Type"] == "AWS::Serverless::Function"
        and name.startswith("Chat")
        and "CHAT_MESSAGES_TABLE" in _variables(resource)
    }
    assert "ChatChannelFunction" in writers
    for name, variables in writers.items():
        assert variables.get("CHAT_MESSAGE_RETENTION_DAYS") == {
            "Ref": "ChatMessageRetentionDays"
        }, name


def test_the_setting_defaults_to_a_year_and_reads_the_environment() -> None:
    assert Settings.from_env({}).chat_message_retention_days == 365
    assert (
        Settings.from_env({"CHAT_MESSAGE_RETENTION_DAYS": "30"}).chat_message_retention_days == 30
    )


def _variables(resource: dict[str, Any]) -> dict[str, Any]:
    variables: dict[str, Any] = resource["Properties"].get("Environment", {}).get("Variables", {})
    return variables
