"""DynamoDB adapter for single-use connect tickets: stored by the HTTP API, consumed at $connect.

Why DynamoDB rather than Redis: the $connect authorizer runs outside the VPC (it would otherwise
pay ENI set-up and a NAT path on every connect, and Redis in AWS is only reachable inside it),
and DynamoDB gives the atomic single use directly: one `DeleteItem` with a condition and
`ReturnValues=ALL_OLD` removes the ticket and returns what it vouched for, so of two concurrent
connects with one ticket exactly one gets the claims. Each ticket is one item, so nothing spans
keys (the Redis cluster-mode hash-slot question never arises). The condition on `expires_at`
makes a ticket die on time, since TTL deletion runs up to days late. Tickets are stored under
the SHA-256 of their value: a read of the table yields nothing that can open a connection.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

from courier.aws_errors import is_condition_failed

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

    from courier.settings import Settings


def ticket_key(ticket: str) -> str:
    """The table key of a ticket: its SHA-256, hex."""
    return hashlib.sha256(ticket.encode("utf-8")).hexdigest()


class TicketStore:
    """Tickets (key `ticket_hash`, TTL `expires_at`) holding the claims they vouch for, as JSON."""

    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        # The low-level client, not a boto3 resource: the authorizer's cold start (see
        # courier.dynamodb_tables.dynamodb_client).
        self._client = client
        self._table_name = table_name

    @classmethod
    def from_settings(cls, settings: Settings) -> TicketStore:
        from courier.dynamodb_tables import dynamodb_client

        return cls(dynamodb_client(settings), settings.chat_tickets_table)

    def put(self, ticket: str, claims_json: str, *, expires_at: int) -> None:
        self._client.put_item(
            TableName=self._table_name,
            Item={
                "ticket_hash": {"S": ticket_key(ticket)},
                "claims": {"S": claims_json},
                "expires_at": {"N": str(expires_at)},
            },
            # A random 256-bit value never collides; the condition makes that a certainty.
            ConditionExpression="attribute_not_exists(ticket_hash)",
        )

    def consume(self, ticket: str, *, now: int) -> str | None:
        """The ticket's claims JSON, removing the ticket; None when unknown, used or expired."""
        from botocore.exceptions import ClientError

        try:
            response = self._client.delete_item(
                TableName=self._table_name,
                Key={"ticket_hash": {"S": ticket_key(ticket)}},
                ConditionExpression="attribute_exists(ticket_hash) AND expires_at > :now",
                ExpressionAttributeValues={":now": {"N": str(now)}},
                ReturnValues="ALL_OLD",
            )
        except ClientError as error:
            if is_condition_failed(error):
                return None
            raise
        return str(response["Attributes"]["claims"]["S"])
