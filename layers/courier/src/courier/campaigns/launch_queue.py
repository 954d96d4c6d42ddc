"""The launcher's SQS queue: one message per "work on this campaign" request (adapter)."""

from __future__ import annotations

import json
from functools import cached_property
from typing import TYPE_CHECKING

from courier.campaigns.launch import MAX_LAUNCHER_DELAY_SECONDS

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

    from courier.settings import Settings


def launch_message(campaign_id: str) -> str:
    return json.dumps({"campaign_id": campaign_id}, separators=(",", ":"))


def campaign_id_of(body: str) -> str:
    """The campaign a launcher message names; ValueError for anything else."""
    data = json.loads(body)
    campaign_id = data.get("campaign_id") if isinstance(data, dict) else None
    if not isinstance(campaign_id, str) or not campaign_id.isalnum() or len(campaign_id) > 32:
        raise ValueError('a launcher message is {"campaign_id": "<32 hex>"}')
    return campaign_id


class SqsLaunchQueue:
    def __init__(self, queue_url: str, endpoint_url: str = "") -> None:
        if not queue_url:
            raise ValueError("CAMPAIGN_LAUNCH_QUEUE_URL is not set")
        self._queue_url = queue_url
        self._endpoint_url = endpoint_url

    @classmethod
    def from_settings(cls, settings: Settings) -> SqsLaunchQueue:
        return cls(settings.campaign_launch_queue_url, settings.aws_endpoint_url)

    @cached_property
    def _client(self) -> SQSClient:
        import boto3

        return boto3.client("sqs", endpoint_url=self._endpoint_url or None)

    def request(self, campaign_id: str, delay_seconds: int) -> None:
        self._client.send_message(
            QueueUrl=self._queue_url,
            MessageBody=launch_message(campaign_id),
            DelaySeconds=max(0, min(MAX_LAUNCHER_DELAY_SECONDS, delay_seconds)),
        )
