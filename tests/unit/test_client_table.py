"""ClientTable: the DynamoDB client with the plain values the Table resource takes and returns."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from courier.dynamodb_tables import ClientTable, batch_get_strings


class _RecordingClient:
    """A low-level client stand-in: records typed requests, answers typed items."""

    def __init__(self, batches: list[dict[str, Any]] | None = None) -> None:
        self.requests: list[tuple[str, dict[str, Any]]] = []
        self._batches = batches or []

    def update_item(self, **request: Any) -> dict[str, Any]:
        self.requests.append(("update_item", request))
        return {"Attributes": {"status": {"S": "SENT"}, "parts": {"N": "2"}}}

    def query(self, **request: Any) -> dict[str, Any]:
        self.requests.append(("query", request))
        return {
            "Items": [{"pk": {"S": "JOB#a"}, "sk_time": {"S": "t#a"}}],
            "LastEvaluatedKey": {"pk": {"S": "JOB#a"}},
        }

    def batch_get_item(self, **request: Any) -> dict[str, Any]:
        self.requests.append(("batch_get_item", request))
        return self._batches.pop(0)


def test_requests_are_typed_and_answers_plain() -> None:
    # Given a table over a client
    client = _RecordingClient()
    table = ClientTable(client, "SmsMessages")  # type: ignore[arg-type]
    # When an update with plain values is made
    answer = table.update_item(
        Key={"pk": "JOB#a"},
        UpdateExpression="SET #s = :s, #p = :p",
        ExpressionAttributeNames={"#s": "status", "#p": "parts"},
        ExpressionAttributeValues={":s": "SENT", ":p": 2},
    )
    # Then the client got DynamoDB's typed values and the table's name
    _, sent = client.requests[0]
    assert sent["TableName"] == "SmsMessages"
    assert sent["Key"] == {"pk": {"S": "JOB#a"}}
    assert sent["ExpressionAttributeValues"] == {":s": {"S": "SENT"}, ":p": {"N": "2"}}
    assert sent["ExpressionAttributeNames"] == {"#s": "status", "#p": "parts"}
    # And the answer is plain, numbers as Decimal (as the resource returns them)
    assert answer["Attributes"] == {"status": "SENT", "parts": Decimal(2)}
    # And a query's items and its last key come back plain too
    page = table.query(KeyConditionExpression="pk = :k", ExpressionAttributeValues={":k": "x"})
    assert page["Items"] == [{"pk": "JOB#a", "sk_time": "t#a"}]
    assert page["LastEvaluatedKey"] == {"pk": "JOB#a"}


def test_batch_gets_retry_unprocessed_keys_until_none_are_left() -> None:
    # Given a client that leaves one key unprocessed the first time
    first = {
        "Responses": {"SmsOptOuts": [{"phone_number": {"S": "+821000000001"}}]},
        "UnprocessedKeys": {"SmsOptOuts": {"Keys": [{"phone_number": {"S": "+821000000002"}}]}},
    }
    second = {
        "Responses": {"SmsOptOuts": [{"phone_number": {"S": "+821000000002"}}]},
        "UnprocessedKeys": {},
    }
    client = _RecordingClient([first, second])
    table = ClientTable(client, "SmsOptOuts")  # type: ignore[arg-type]
    # When both numbers are looked up
    found = batch_get_strings(table, "phone_number", ["+821000000001", "+821000000002"], [])
    # Then both are found, the second by asking again for its key alone, typed
    assert found == [{"phone_number": "+821000000001"}, {"phone_number": "+821000000002"}]
    retried = client.requests[1][1]["RequestItems"]["SmsOptOuts"]["Keys"]
    assert retried == [{"phone_number": {"S": "+821000000002"}}]
