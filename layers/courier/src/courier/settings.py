"""The one typed settings object, read from the environment at first use."""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Mapping
from functools import cache
from typing import Any, Literal, get_args

from courier.lax_values import boolean, whole_number

ProviderName = Literal["end-user-messaging", "sns", "sandbox"]


class SettingsError(ValueError):
    """Settings of the wrong type or out of their range; the message names every one."""


def _knob(
    *,
    default: Any,
    ge: float | None = None,
    gt: float | None = None,
    le: float | None = None,
    pattern: str | None = None,
    description: str = "",
    repr: bool = True,
) -> Any:
    """A field with the bounds `Settings` checks, and what it is for when its name is not enough."""
    rules = {"ge": ge, "gt": gt, "le": le, "pattern": pattern, "description": description}
    return dataclasses.field(default=default, repr=repr, metadata=rules)


@dataclasses.dataclass(frozen=True)
class Settings:
    """Every knob the functions read; each field is read from its upper-cased name.

    A frozen dataclass that checks its own fields (types as pydantic's lax mode takes them from
    the environment, and each field's bounds), not a pydantic model: importing pydantic and
    building this model cost the functions that need no other pydantic model (the $connect
    authorizer) ~90 ms of CPU per cold start, and pydantic-settings ~0.2 s more before that.
    Copies with changes: `dataclasses.replace(settings, name=value)` (checked again).
    """

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        names = (f.name for f in dataclasses.fields(cls))
        present: dict[str, Any] = {name: env[name.upper()] for name in names if name.upper() in env}
        return cls(**present)

    service_timezone: str = "Asia/Seoul"

    # SMS storage
    sms_messages_table: str = "SmsMessages"
    sms_opt_out_table: str = "SmsOptOuts"
    sms_dead_letter_queue_url: str = ""
    sms_status_ttl_days: int = _knob(default=90, ge=1)
    # Must outlive every path that can bring a job back: the source queue's retention plus the
    # dead-letter queue's (4 + 14 days in template.yaml; a template test keeps them in step).
    sms_idempotency_ttl_seconds: int = _knob(default=21 * 24 * 3600, ge=60)
    # An INPROGRESS idempotency record older than this belongs to a dead invocation (the sender
    # times out after 30 s): its job is recorded UNKNOWN, never sent again.
    sms_in_progress_stale_seconds: int = _knob(default=120, ge=60)
    # The stream counter's partial day counts (courier.stats.partials_store).
    sms_stats_partials_table: str = "SmsStatsPartials"
    # The key of the status records' `phone_key` (courier.sms.phone_keys): Secrets Manager in AWS
    # and the local runtime; the plain value for in-process tests only. Neither: no `phone_key`.
    sms_phone_key_secret_arn: str = ""
    sms_phone_key: str = _knob(default="", repr=False)

    # SMS sending
    sms_provider: ProviderName = "end-user-messaging"
    sms_origination_identity: str = ""
    sms_configuration_set: str = ""
    sms_max_price_per_part: str = ""
    sms_message_ttl_seconds: int = _knob(default=72 * 3600, ge=5, le=259200)
    sms_dry_run: bool = False
    sms_max_parts: int = _knob(default=6, ge=1, le=10)
    sms_send_concurrency: int = _knob(default=10, ge=1, le=64)
    sms_schedule_horizon_days: int = _knob(default=7, ge=0, le=365)
    sms_retry_base_seconds: int = _knob(default=5, ge=0)
    sms_retry_max_seconds: int = _knob(default=900, ge=0, le=43200)
    sms_max_deferrals: int = _knob(
        default=50, ge=0, description="re-queues for rate or in-progress waits before retrying"
    )

    # Rate limiter shared by every concurrent sender (0 disables it)
    sms_rate_limit_mps: float = _knob(default=20.0, ge=0)
    sms_rate_limit_burst: float = _knob(default=1.0, ge=1, description="sends allowed back to back")
    sms_rate_limit_max_wait_seconds: float = _knob(default=10.0, ge=0)
    sms_rate_limit_key: str = "courier:sms:rate"
    sms_rate_limit_share: float = _knob(
        default=1.0,
        gt=0,
        le=1,
        description="most of the provider's rate this sender may take (bulk < 1 leaves codes room)",
    )
    sms_rate_limit_share_key: str = _knob(default="", description="the share's own bucket key")
    # While Redis is unreachable each instance paces itself at the rate divided by the sum of
    # every sender function's maximum concurrency, so all of them together stay within it.
    sms_rate_limit_fallback_instances: tuple[int, ...] = _knob(
        default=(1,), description="maximum concurrency of each sender function ('10,5')"
    )
    sms_rate_limit_retry_after_seconds: float = _knob(default=10.0, gt=0)

    # Sandbox provider (local runs, tests, benchmarks)
    sms_sandbox_latency_ms: float = _knob(default=0.0, ge=0)
    sms_sandbox_failure_rate: float = _knob(default=0.0, ge=0, le=1)
    sms_sandbox_outbox: str = ""

    # Chat channel
    chat_connections_table: str = "ChatConnections"
    chat_messages_table: str = "ChatMessages"
    chat_connections_endpoint: str = _knob(
        default="", description="@connections endpoint; empty: https://{domainName}/{stage}"
    )
    chat_day_shards: int = _knob(default=16, ge=1, le=256)
    chat_connection_ttl_seconds: int = _knob(default=3 * 3600, ge=7200)
    chat_send_rate_per_second: float = _knob(default=5.0, gt=0)
    chat_send_burst: float = _knob(default=10.0, ge=1)
    chat_history_recent: int = _knob(default=50, ge=1, le=1000)
    # Posts in flight per fan-out, and their rate per invocation: the cap keeps one fan-out at
    # 80% of API Gateway's account-level throttle (10,000 requests/s steady, 5,000 burst, shared
    # by every API of the account in the Region: docs/chat.md) whatever the posts' latency; 48 in
    # flight at ~5 ms a post could go 9,600/s, so the pool keeps the cap busy. 0: no cap.
    chat_fanout_workers: int = _knob(default=48, ge=1, le=256)
    chat_fanout_max_rate: float = _knob(default=8_000.0, ge=0)
    chat_client_msg_id_ttl_seconds: int = _knob(default=24 * 3600, ge=60)
    chat_message_retention_days: int = _knob(
        default=365, ge=1, description="days a chat message is kept (the table's TTL)"
    )

    # Chat tokens: the HS256 secret from Secrets Manager in AWS; the plain value for local runs only
    chat_token_secret_arn: str = ""
    chat_token_secret: str = _knob(default="", repr=False)
    # Tokens older than this (from `iat`) are refused whatever their `exp`: a leaked token dies.
    chat_token_max_age_seconds: int = _knob(default=24 * 3600, ge=60)
    # Single-use connect tickets (the browser's WebSocket URL carries one instead of the token)
    chat_tickets_table: str = "ChatTickets"
    chat_ticket_ttl_seconds: int = _knob(default=60, ge=5, le=300)
    # Users whose tokens issued before a time are refused
    chat_revocations_table: str = "ChatRevocations"

    # Redis (ElastiCache in AWS, a local redis-server elsewhere)
    redis_url: str = ""
    redis_auth_secret_arn: str = ""

    # Producer side
    sms_transactional_queue_url: str = ""
    sms_bulk_queue_url: str = ""
    # Operator side (`sms dlq`): the dead-letter queues and the receipts queue they feed back
    sms_transactional_dead_letter_queue_url: str = ""
    sms_bulk_dead_letter_queue_url: str = ""
    sms_events_queue_url: str = ""
    sms_events_dead_letter_queue_url: str = ""

    # Daily stats batch
    stats_table: str = "DailyStats"
    stats_reports_bucket: str = ""
    stats_top_rooms: int = _knob(default=10, ge=1, le=100)
    # Local and demo stacks may report on today (partial); production runs only closed days.
    stats_allow_open_day: bool = False
    # Delivery receipts arrive up to 72 h after a day's first run: the scheduled run also
    # re-aggregates this many days before yesterday so they are counted. At most 4: five days of
    # 512 shards stay under the execution's 25,000 history events and 256 KB payloads.
    stats_late_receipt_days: int = _knob(default=3, ge=0, le=4)

    # Shared cache of the stats reads (courier.stats.read_cache), on the Redis of REDIS_URL; off
    # without one. TTLs by the age of the newest day a read covers: a range reaching today or
    # later, one reaching the days the scheduled run still recounts (late receipts), older ones.
    stats_cache_enabled: bool = True
    stats_cache_ttl_open_seconds: int = _knob(default=60, ge=1, le=3600)
    stats_cache_ttl_recent_seconds: int = _knob(default=600, ge=1, le=24 * 3600)
    stats_cache_ttl_closed_seconds: int = _knob(default=24 * 3600, ge=1, le=7 * 24 * 3600)
    # Connect and command timeout of the cache's own client: an outage costs a read this much.
    stats_cache_timeout_seconds: float = _knob(default=0.25, gt=0, le=5)
    # After a cache error, reads skip the cache for this long (no timeout paid on every read).
    stats_cache_retry_after_seconds: float = _knob(default=10.0, ge=0, le=600)
    # Stampede protection: the lock a miss takes (expires if its holder dies) and how long the
    # other readers of the key wait for its value before reading the database themselves.
    stats_cache_lock_ms: int = _knob(default=5000, ge=100, le=60000)
    stats_cache_wait_ms: int = _knob(default=1500, ge=0, le=10000)

    # HTTP API: the shared value CloudFront sends as `x-origin-verify` (Secrets Manager in AWS;
    # the plain value for local runs and tests). With neither set, unsigned requests are refused
    # unless verification is switched off explicitly (the local runtime has no CloudFront).
    origin_verify_secret_arn: str = ""
    origin_verify_secret: str = _knob(default="", repr=False)
    verify_cloudfront_origin: bool = True

    # Admin console sign-in (courier.admin.identity): the Cognito user pool's issuer, the app
    # client the web app signs in with, and where its signing keys are published (empty: the
    # issuer's /.well-known/jwks.json, as in AWS; an emulator serves them elsewhere).
    admin_token_issuer: str = ""
    admin_client_id: str = ""
    admin_jwks_url: str = ""
    admin_group: str = "admin"

    # Admin bulk SMS campaigns (courier.campaigns): the launcher's queue, and the provider's price
    # of one SMS part for the cost estimate (a decimal in campaign_currency; 0: not configured).
    campaign_launch_queue_url: str = ""
    campaign_price_per_part: str = _knob(default="0", pattern=r"^[0-9]{1,6}(\.[0-9]{1,8})?$")
    campaign_currency: str = "USD"

    # Relational data (Aurora MySQL in AWS, a private MariaDB locally): courier.data.connections.
    # `external` mode: mysql://user:password@host:port/database URLs (the reader's may be empty:
    # reads then go to the writer). IAM mode (proxy or direct cluster endpoints): hosts and the
    # application user, a 15-minute IAM token as the password, TLS verified with the CA bundle.
    database_url: str = _knob(default="", repr=False)
    database_reader_url: str = _knob(default="", repr=False)
    database_host: str = ""
    database_reader_host: str = ""
    database_port: int = _knob(default=3306, ge=1, le=65535)
    database_name: str = "courier"
    database_user: str = ""
    database_ca_bundle: str = _knob(default="", description="PEM file of the RDS CA bundle")
    # The migration function only: the master user's secret (JSON username/password) RDS manages.
    database_master_secret_arn: str = ""
    # An Aurora Serverless v2 instance resuming from auto-pause holds connections ~15 s.
    database_connect_timeout_seconds: float = _knob(default=10.0, gt=0, le=60)

    # Overrides for emulators (MiniStack/moto server); empty in AWS
    aws_endpoint_url: str = ""

    def __post_init__(self) -> None:
        problems: list[str] = []
        for spec in dataclasses.fields(self):
            try:
                value = _checked(spec, getattr(self, spec.name))
            except (TypeError, ValueError) as problem:
                problems.append(f"{spec.name} ({spec.name.upper()}): {problem}")
                continue
            object.__setattr__(self, spec.name, value)
        if problems:
            raise SettingsError("invalid settings: " + "; ".join(problems))

    @property
    def sms_rate_limit_fallback_rate(self) -> float:
        """Parts per second one instance may send alone while the shared limiter is down."""
        instances = max(1, sum(self.sms_rate_limit_fallback_instances))
        return self.sms_rate_limit_mps / instances


def _as_float(value: object) -> float:
    if isinstance(value, int | float | str):
        return float(value)
    raise TypeError(f"expected a number, got {type(value).__name__}")


def _as_str(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected a string, got {type(value).__name__}")
    return value


def _as_provider(value: object) -> str:
    if value not in get_args(ProviderName):
        raise ValueError(f"expected one of {', '.join(get_args(ProviderName))}, got {value!r}")
    return str(value)


def _as_counts(value: object) -> tuple[int, ...]:
    # "10,5": one maximum concurrency per sender function, as the template writes them.
    if isinstance(value, str):
        return tuple(int(part) for part in value.split(",") if part.strip())
    if isinstance(value, list | tuple):
        return tuple(whole_number(part) for part in value)
    raise TypeError(f"expected comma-separated whole numbers, got {type(value).__name__}")


# By annotation (a string: annotations are not evaluated here). A field of another type fails
# at import, so a new kind of setting cannot go unchecked.
_READERS = {
    "str": _as_str,
    "int": whole_number,
    "float": _as_float,
    "bool": boolean,
    "ProviderName": _as_provider,
    "tuple[int, ...]": _as_counts,
}


def _checked(spec: dataclasses.Field[Any], value: object) -> object:
    """`value` as the field's type, within its bounds."""
    value = _READERS[str(spec.type)](value)
    ge, gt, le, pattern = (spec.metadata.get(rule) for rule in ("ge", "gt", "le", "pattern"))
    if isinstance(value, int | float) and not isinstance(value, bool):
        # `not >=`: NaN is within no bounds.
        if ge is not None and not value >= ge:
            raise ValueError(f"must be >= {ge}, got {value!r}")
        if gt is not None and not value > gt:
            raise ValueError(f"must be > {gt}, got {value!r}")
        if le is not None and not value <= le:
            raise ValueError(f"must be <= {le}, got {value!r}")
    # The whole value, as pydantic (Rust regex) reads the anchored patterns: `$` before a
    # trailing newline would match in Python's `re.search`.
    if pattern is not None and not re.fullmatch(pattern, str(value)):
        raise ValueError(f"does not match {pattern}")
    return value


if unknown := {str(f.type) for f in dataclasses.fields(Settings)} - set(_READERS):
    raise TypeError(f"Settings has fields of types it cannot read: {sorted(unknown)}")


@cache
def get_settings() -> Settings:
    """Settings for this process, read once on first use (never at import time)."""
    return Settings.from_env()
