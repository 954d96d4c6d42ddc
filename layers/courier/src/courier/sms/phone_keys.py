"""The keyed hash that lets the admin console find a number's jobs without storing the number.

A plain SHA-256 of a phone number is reversible by enumerating the numbering plan (a country has
at most ~10^10 numbers), so the status record carries an HMAC-SHA256 under a secret key
(`PhoneLookupKeySecret` in Secrets Manager): without the key the value reveals nothing, and the
senders and the admin API, which hold it, derive the same value from the same number. The
standard library's `hmac` is the whole implementation; no library adds anything here.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from courier.settings import Settings

# 32 hex digits = 128 bits: a collision between two numbers is out of reach at any volume.
PHONE_KEY_HEX_DIGITS: Final = 32
SECRET_JSON_KEY: Final = "key"  # noqa: S105 (the JSON field name, not a secret)
MIN_KEY_CHARS: Final = 32


class PhoneKeys:
    """Derives `phone_key` (the record's attribute and the `by_phone` index's partition key)."""

    def __init__(self, key: str) -> None:
        if len(key) < MIN_KEY_CHARS:
            raise ValueError(f"the phone lookup key must have at least {MIN_KEY_CHARS} characters")
        self._key = key.encode()

    def __repr__(self) -> str:  # never the key itself
        return "PhoneKeys(<secret>)"

    def key_of(self, e164: str) -> str:
        """The lookup key of an E.164 number, the same for every way of writing that number."""
        digest = hmac.new(self._key, canonical_number(e164).encode(), hashlib.sha256)
        return digest.hexdigest()[:PHONE_KEY_HEX_DIGITS]


def canonical_number(e164: str) -> str:
    """libphonenumber's E.164 form (e.g. a national trunk 0 after the country code dropped), so
    the sender and the admin derive one key; a number it cannot parse is used as given."""
    from courier.sms.numbers import canonical_e164

    return canonical_e164(e164) or e164


def phone_keys_from_settings(settings: Settings) -> PhoneKeys | None:
    """The deployment's key: Secrets Manager in AWS and the local runtime, a plain setting for
    in-process tests; None when neither is configured (records then carry no `phone_key`)."""
    if settings.sms_phone_key_secret_arn:
        from courier.secret_store import secret_value

        return PhoneKeys(secret_value(settings.sms_phone_key_secret_arn, json_key=SECRET_JSON_KEY))
    if settings.sms_phone_key:
        return PhoneKeys(settings.sms_phone_key)
    return None
