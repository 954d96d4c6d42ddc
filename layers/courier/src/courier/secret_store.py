"""Reads a value from Secrets Manager (cached by Powertools), plain or under a JSON key."""

from __future__ import annotations

import json


def secret_value(secret_arn: str, *, json_key: str) -> str:
    """The secret's `json_key` when it holds a JSON object, else the whole string.

    Powertools caches the value (POWERTOOLS_PARAMETERS_MAX_AGE, 5 s by default), so warm
    invocations rarely call Secrets Manager and a rotated secret is picked up soon after.
    """
    from aws_lambda_powertools.utilities.parameters import SecretsProvider, get_secret
    from aws_lambda_powertools.utilities.parameters.constants import DEFAULT_PROVIDERS

    if "secrets" not in DEFAULT_PROVIDERS:
        import boto3

        # The provider `get_secret` uses, given a client of boto3's default session: its own
        # would open a second session, loading botocore's endpoint and service data again (a
        # cold start cost the other clients of the function have already paid once).
        DEFAULT_PROVIDERS["secrets"] = SecretsProvider(boto3_client=boto3.client("secretsmanager"))
    raw = str(get_secret(secret_arn))
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        return raw
    if not isinstance(value, dict):
        return raw
    if json_key not in value:
        raise RuntimeError(f"secret {secret_arn} is JSON without a {json_key!r} key")
    return str(value[json_key])
