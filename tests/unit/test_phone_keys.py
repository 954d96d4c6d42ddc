"""The keyed hash of phone numbers on status records (courier.sms.phone_keys)."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime

import pytest

from courier.settings import Settings
from courier.sms.contract import SmsJob
from courier.sms.delivery import record_result
from courier.sms.phone_keys import PhoneKeys, phone_keys_from_settings
from tests.unit.fakes import RecordingStatus

KEY = "unit-phone-lookup-key-0123456789abcdef0123"
PHONE = "+821023456789"


def test_the_key_is_the_numbers_hmac_under_the_secret_and_stable() -> None:
    # Given one key, when the same number is hashed twice (by two instances)
    first, second = PhoneKeys(KEY).key_of(PHONE), PhoneKeys(KEY).key_of(PHONE)
    # Then both are the first 32 hex digits of HMAC-SHA256(key, number)
    expected = hmac.new(KEY.encode(), PHONE.encode(), hashlib.sha256).hexdigest()[:32]
    assert first == second == expected


def test_another_key_or_number_gives_another_value_and_no_plain_hash() -> None:
    keys = PhoneKeys(KEY)
    assert PhoneKeys(KEY.replace("unit", "prod")).key_of(PHONE) != keys.key_of(PHONE)
    assert keys.key_of("+821023456788") != keys.key_of(PHONE)
    # An unkeyed SHA-256 (reversible by enumerating numbers) is not what is stored
    assert not hashlib.sha256(PHONE.encode()).hexdigest().startswith(keys.key_of(PHONE))
    assert PHONE.lstrip("+") not in keys.key_of(PHONE)


def test_two_ways_of_writing_a_number_give_one_key() -> None:
    # Given a Korean number written with the national trunk 0 after the country code
    keys = PhoneKeys(KEY)
    # Then it is the same number, so the same key (the sender and the admin agree)
    assert keys.key_of("+8201023456789") == keys.key_of(PHONE)


def test_a_short_key_is_refused_and_the_key_never_shows_in_repr() -> None:
    with pytest.raises(ValueError, match="at least 32"):
        PhoneKeys("short")
    assert KEY not in repr(PhoneKeys(KEY))
    assert KEY not in repr(Settings(sms_phone_key=KEY))


def test_settings_without_a_key_give_none_and_a_plain_key_is_used() -> None:
    assert phone_keys_from_settings(Settings()) is None
    keys = phone_keys_from_settings(Settings(sms_phone_key=KEY))
    assert keys is not None
    assert keys.key_of(PHONE) == PhoneKeys(KEY).key_of(PHONE)


def _job() -> SmsJob:
    return SmsJob.model_validate(
        {"schema_version": 1, "job_id": "otp-1", "to": PHONE, "body": "code 123456"}
    )


def test_the_senders_record_carries_the_key_and_only_the_masked_number() -> None:
    # Given a send result recorded with the key
    status = RecordingStatus()
    result = {"status": "SENT", "at": datetime(2026, 11, 25, tzinfo=UTC).isoformat(), "parts": 1}
    record_result(status, _job(), result, phone_keys=PhoneKeys(KEY))
    # Then the record's facts hold the keyed hash and the masked number, never the number
    facts = status.facts[0]
    assert facts["phone_key"] == PhoneKeys(KEY).key_of(PHONE)
    assert facts["to_masked"] == "+82********89"
    assert all(PHONE.lstrip("+") not in str(value) for value in facts.values())


def test_without_a_key_the_record_has_no_phone_key() -> None:
    status = RecordingStatus()
    result = {"status": "SENT", "at": datetime(2026, 11, 25, tzinfo=UTC).isoformat(), "parts": 1}
    record_result(status, _job(), result)
    assert status.facts[0].get("phone_key") is None
