"""Connecting to an authenticated Redis with the password from Secrets Manager (moto)."""

from __future__ import annotations

import json

import boto3
import pytest
import redis
from moto import mock_aws

from courier.redis_connection import connect_redis
from courier.settings import Settings
from tests.harness import REGION, redis_server


@pytest.mark.parametrize("as_json", [True, False])
def test_the_app_user_authenticates_with_the_secret(aws_env: None, as_json: bool) -> None:
    # Given a Redis whose only usable user is "courier", like the ElastiCache user group
    acl = ["--user", "default", "off", "--user", "courier", "on", ">s3cret-pass", "~*", "+@all"]
    with redis_server(*acl, auth=("courier", "s3cret-pass")) as url, mock_aws():
        secret = json.dumps({"username": "courier", "password": "s3cret-pass"})
        arn = boto3.client("secretsmanager", region_name=REGION).create_secret(
            Name="courier/redis", SecretString=secret if as_json else "s3cret-pass"
        )["ARN"]
        user_url = url.replace("redis://", "redis://courier@")

        # When the client is opened from settings naming the URL and the secret
        client = connect_redis(Settings(redis_url=user_url, redis_auth_secret_arn=arn))

        # Then it can run commands; without the secret it cannot
        assert client.ping() is True
        with pytest.raises(redis.AuthenticationError):
            connect_redis(Settings(redis_url=user_url)).ping()


def test_no_url_is_a_clear_error() -> None:
    with pytest.raises(RuntimeError, match="REDIS_URL"):
        connect_redis(Settings(redis_url=""))
