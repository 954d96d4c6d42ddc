"""The settings object: environment values read as typed fields, each within its bounds."""

from __future__ import annotations

import dataclasses

import pytest

from courier.settings import Settings, SettingsError


def test_environment_text_becomes_typed_values() -> None:
    # Given the environment as Lambda passes it (text only)
    env = {
        "SMS_MAX_PARTS": "3",
        "SMS_RATE_LIMIT_MPS": "12.5",
        "SMS_DRY_RUN": "yes",
        "SMS_RATE_LIMIT_FALLBACK_INSTANCES": "10,5",
        "SMS_PROVIDER": "sandbox",
        "CHAT_DAY_SHARDS": "4.0",
    }
    # When read
    settings = Settings.from_env(env)
    # Then each field has its type, as pydantic's lax mode read it
    assert settings.sms_max_parts == 3
    assert settings.sms_rate_limit_mps == 12.5
    assert settings.sms_dry_run is True
    assert settings.sms_rate_limit_fallback_instances == (10, 5)
    assert settings.sms_provider == "sandbox"
    assert settings.chat_day_shards == 4
    assert settings.sms_rate_limit_fallback_rate == 12.5 / 15


def test_every_bad_value_is_refused_by_its_variable_name() -> None:
    # Given values out of range, of the wrong kind, or outside a pattern
    env = {
        "SMS_MAX_PARTS": "11",
        "SMS_PROVIDER": "carrier-pigeon",
        "SMS_DRY_RUN": "maybe",
        "CHAT_DAY_SHARDS": "4.5",
        "SMS_RATE_LIMIT_MPS": "nan",
        "CAMPAIGN_PRICE_PER_PART": "0.05\n",
    }
    # When read / Then one error names every one of them
    with pytest.raises(SettingsError) as refused:
        Settings.from_env(env)
    for variable in env:
        assert variable in str(refused.value)


def test_copies_with_changes_are_checked_again() -> None:
    # Given valid settings
    settings = Settings()
    # When a copy changes a field to a value out of its bounds / Then it is refused
    with pytest.raises(SettingsError, match="SMS_SEND_CONCURRENCY"):
        dataclasses.replace(settings, sms_send_concurrency=0)
    # And a valid change is read like the environment's text
    assert dataclasses.replace(settings, sms_send_concurrency="20").sms_send_concurrency == 20


def test_secrets_stay_out_of_the_repr() -> None:
    settings = Settings(
        database_url="mysql://app:hunter2@db/courier", origin_verify_secret="shared-origin-value"
    )
    assert "hunter2" not in repr(settings)
    assert "shared-origin-value" not in repr(settings)
