"""The SMS fault suite (`make faults`): N jobs through the sender under one fault each, then the
delivery receipts; every job ends SENT/DELIVERED, FAILED with a reason, or in the DLQ with its
reason, and the provider accepts no job twice. One `faults <scenario>: ...` line per scenario.

The deployed numbers come from template.yaml: maxReceiveCount, the transactional queue's
visibility timeout, its sender's maximum concurrency (one simulated instance each).
"""

from __future__ import annotations

import json
import os
import random
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest

from courier.settings import Settings, get_settings
from courier.sms.numbers import is_valid_number
from courier.sms.receipt_consumer import ReceiptConsumer
from courier.sms.sqs_consumer import SqsJobConsumer
from courier.sms.status_store import SmsStatusStore
from courier.sms.wiring import build_rate_limiter, build_sender
from local.redis_server import RedisServer
from tests.faults.simulation import (
    DynamoThrottle,
    Instance,
    ProviderService,
    SimClock,
    SimulatedQueue,
    SimulatedQueues,
    Timeline,
    lambda_event,
    run,
)
from tests.harness import FakeLambdaContext, SmsStack, sms_moto_stack, template

# `make faults` runs 2,000 jobs a scenario; `make test` a quicker 200 with the same assertions.
JOBS = int(os.environ.get("FAULTS_JOBS", "200"))
OPTED_OUT = "+821099990000"
TERMINAL = {"SENT", "DELIVERED", "FAILED"}


def _deployed() -> dict[str, int]:
    decoded = template()
    parameters, resources = decoded["Parameters"], decoded["Resources"]
    return {
        "max_receive_count": int(parameters["MaxReceiveCount"]["Default"]),
        "visibility_timeout": int(
            resources["SmsTransactionalQueue"]["Properties"]["VisibilityTimeout"]
        ),
        "instances": int(parameters["TransactionalSenderMaxConcurrency"]["Default"]),
    }


DEPLOYED = _deployed()


@dataclass
class Workload:
    bodies: list[str]
    sendable: set[str]
    failing: dict[str, str]  # job id → the FAILED reason it must get
    poison: set[str]


def workload(jobs: int, *, poison_every: int = 0, seed: int = 7) -> Workload:
    """Mostly good jobs (some two-part, some Korean), 1% opted out, 1% unassigned numbers."""
    rng = random.Random(seed)
    bodies, sendable, failing, poison = [], set(), {}, set()
    for index in range(jobs):
        job_id = f"f-{index:05d}"
        if poison_every and index % poison_every == poison_every - 1:
            poison.add(job_id)
            bodies.append(
                f'{{"job_id": "{job_id}", "to": "+8210'  # cut off
                if (index // poison_every) % 2
                else json.dumps({"job_id": job_id, "to": "not-a-number", "body": "x"})
            )
            continue
        if index % 100 == 13:
            to, failing[job_id] = OPTED_OUT, "OPTED_OUT"
        elif index % 100 == 57:
            to, failing[job_id] = f"+9991{index:07d}", "INVALID_NUMBER"
        else:
            to = _mobile(rng)
            sendable.add(job_id)
        body = ("인증번호 " if index % 7 == 0 else "Your code is ") + f"{index:06d}"
        if index % 11 == 0:
            body = body + " " + "x" * 160  # two parts
        bodies.append(json.dumps({"job_id": job_id, "to": to, "body": body}))
    return Workload(bodies, sendable, failing, poison)


def _mobile(rng: random.Random) -> str:
    while True:
        number = f"+8210{rng.randrange(2 * 10**7, 10**8):08d}"
        if is_valid_number(number):
            return number


@dataclass
class World:
    stack: SmsStack
    clock: SimClock
    provider: ProviderService
    throttle: DynamoThrottle
    redis: RedisServer


@pytest.fixture(scope="module")
def redis() -> Iterator[RedisServer]:
    server = RedisServer()
    server.start()
    yield server
    server.close()


@pytest.fixture
def world(aws_env: None, monkeypatch: pytest.MonkeyPatch, redis: RedisServer) -> Iterator[World]:
    from courier import dynamodb_tables
    from courier.observability import logger

    # Tens of thousands of INFO lines would cost more than the jobs; warnings still show.
    previous_level = logger.log_level
    logger.setLevel("ERROR")
    if not redis.running:
        redis.start()
    # No real backoff sleeps between throttled DynamoDB attempts: the simulated clock is the time.
    monkeypatch.setattr(
        "botocore.retries.standard.ExponentialBackoff.delay_amount", lambda self, context: 0
    )
    clock = SimClock()
    rng = random.Random(2026)
    provider = ProviderService(clock=clock, rng=rng)
    throttle = DynamoThrottle(rng=random.Random(99))
    with sms_moto_stack(monkeypatch.setenv) as stack:
        boto3.setup_default_session()
        events = boto3.DEFAULT_SESSION.events  # type: ignore[union-attr]
        events.register_first("before-send.dynamodb", throttle)
        events.register_first("before-send.pinpoint-sms-voice-v2.SendTextMessage", provider)
        # The shared client and resource, built again on this session, with the hooks
        dynamodb_tables._resource.cache_clear()
        dynamodb_tables._client.cache_clear()
        stack.opt_out(OPTED_OUT)
        for name, value in {
            "SMS_PROVIDER": "end-user-messaging",
            "SMS_RATE_LIMIT_MPS": "0",
            "SMS_RETRY_BASE_SECONDS": "5",
            "SMS_RATE_LIMIT_FALLBACK_INSTANCES": "10,5",
            "REDIS_URL": redis.url,
        }.items():
            monkeypatch.setenv(name, value)
        get_settings.cache_clear()
        yield World(stack, clock, provider, throttle, redis)
        dynamodb_tables._resource.cache_clear()
        dynamodb_tables._client.cache_clear()
        boto3.setup_default_session()
    logger.setLevel(previous_level)


def _consumer_factory(
    world: World, queue: SimulatedQueue, seed: Iterator[int]
) -> Callable[[], Any]:
    def build() -> SqsJobConsumer:
        from courier.sms.providers.end_user_messaging import EndUserMessagingProvider

        settings = get_settings()
        sender = build_sender(
            settings,
            provider=EndUserMessagingProvider.from_settings(settings),
            rate_limiter=build_rate_limiter(
                settings, clock=lambda: world.clock.now, sleep=world.clock.sleep
            ),
            clock=world.clock.datetime,
        )
        return SqsJobConsumer(
            sender,
            SimulatedQueues(queue),  # type: ignore[arg-type]
            concurrency=settings.sms_send_concurrency,
            retry_base_seconds=settings.sms_retry_base_seconds,
            retry_max_seconds=settings.sms_retry_max_seconds,
            max_deferrals=settings.sms_max_deferrals,
            rng=random.Random(next(seed)),
        )

    return build


def _reconcile_receipts(world: World) -> None:
    """The provider's delivery events for every message it accepted, through the receipts
    consumer on their own queue (the faults go on): UNKNOWN and SENT jobs become DELIVERED."""
    settings: Settings = get_settings()
    queue = SimulatedQueue(world.clock, visibility_timeout=90, max_receive_count=5)
    consumer = ReceiptConsumer(SmsStatusStore.from_settings(settings), SimulatedQueues(queue))  # type: ignore[arg-type]
    for message_id, job_id in world.provider.messages.items():
        event = {
            "eventType": "TEXT_DELIVERED",
            "eventTimestamp": int((world.clock.now + 5) * 1000),
            "isFinal": True,
            "messageId": message_id,
            "context": {"job_id": job_id},
        }
        queue.send(json.dumps(event))
    receipt_failures: set[str] = set()
    while len(queue):
        messages = queue.receive(10)
        if not messages:
            world.clock.now = max(world.clock.now + 1, queue.next_visible_at() or 0)
            continue
        response = consumer.process_batch(lambda_event(messages), None)
        failed = {item["itemIdentifier"] for item in response["batchItemFailures"]}
        receipt_failures.update(m.body for m in messages if m.message_id in failed)
        for message in messages:
            if message.message_id not in failed:
                queue.delete(message.receipt_handle)
    assert not queue.dead, (
        f"a receipt was dead-lettered; failed ones: {sorted(receipt_failures)[:3]}"
    )


def run_scenario(
    world: World,
    name: str,
    load: Workload,
    *,
    timeline: Timeline | None = None,
    lost_delete_rate: float = 0.0,
) -> dict[str, Any]:
    started = time.monotonic()
    queue = SimulatedQueue(
        world.clock,
        visibility_timeout=DEPLOYED["visibility_timeout"],
        max_receive_count=DEPLOYED["max_receive_count"],
    )
    seeds = iter(range(10_000))
    instances = [
        Instance(_consumer_factory(world, queue, seeds)) for _ in range(DEPLOYED["instances"])
    ]
    stats = run(
        clock=world.clock,
        queue=queue,
        instances=instances,
        timeline=timeline or Timeline([(0.0, body) for body in load.bodies]),
        context=FakeLambdaContext(),
        rng=random.Random(5),
        lost_delete_rate=lost_delete_rate,
    )
    unknown_before = Counter(item["status"] for item in world.stack.status_items().values())[
        "UNKNOWN"
    ]
    _reconcile_receipts(world)
    items = world.stack.status_items()
    status = {job: item["status"] for job, item in items.items()}
    dead_codes = Counter(d.failure_code or "REDRIVE" for d in queue.dead)
    dead_ids = {job for d in queue.dead for job in load.poison if f'"{job}"' in d.body}
    all_jobs = load.sendable | set(load.failing)
    lost = sum(1 for job in all_jobs if status.get(job) not in TERMINAL) + len(
        load.poison - dead_ids
    )
    duplicate_sends = sum(1 for count in world.provider.accepted.values() if count > 1)
    result = {
        "jobs": len(load.bodies),
        "sent": len(world.provider.accepted),
        "failed": Counter(status.values())["FAILED"],
        "unknown_reconciled": unknown_before,
        "dlq": len(dead_ids),
        "dlq_copies": len(queue.dead),
        "lost": lost,
        "duplicate_sends": duplicate_sends,
        "provider_calls": world.provider.calls,
        "deferred": stats.counts["deferred"],
        "item_failures": stats.item_failures,
        "invocations": stats.invocations,
        "crashed": stats.crashed_invocations,
        "redelivered_batches": stats.redelivered_batches,
        "throttled_ddb": world.throttle.throttled,
        "limiter_degraded": stats.counts["rate_limit_degraded"],
        "sim_min": round(stats.sim_seconds / 60, 1),
        "wall_s": round(time.monotonic() - started, 1),
    }
    print(f"\nfaults {name}: " + " ".join(f"{k}={v}" for k, v in result.items()))
    # Every job has its end, and no job was accepted twice
    assert lost == 0
    assert duplicate_sends == 0
    assert set(world.provider.accepted) == load.sendable
    assert all(status[job] == "DELIVERED" for job in load.sendable)
    assert {job: items[job]["reason"] for job in load.failing} == load.failing
    # And only poison is dead-lettered, each with its reason (none by the redrive policy); a
    # poison message whose batch died after it was parked is parked again (a copy per delivery)
    assert dead_ids == load.poison
    assert "REDRIVE" not in dead_codes
    assert len(queue.dead) >= len(load.poison)
    result["dead_codes"] = dead_codes
    result["stats"] = stats
    return result


def test_redis_down_for_five_minutes_degrades_the_limiter_and_loses_nothing(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the shared limiter at 100 parts/s on a real redis-server, waits over 1 s deferred,
    # and jobs arriving over ten minutes with a burst of 30% a minute into a five-minute outage
    monkeypatch.setenv("SMS_RATE_LIMIT_MPS", "100")
    monkeypatch.setenv("SMS_RATE_LIMIT_MAX_WAIT_SECONDS", "1")
    get_settings.cache_clear()
    load = workload(JOBS)
    steady = [b for i, b in enumerate(load.bodies) if i % 10 >= 3]
    burst = [b for i, b in enumerate(load.bodies) if i % 10 < 3]
    arrivals = [(i * 600 / len(steady), b) for i, b in enumerate(steady)]
    arrivals += [(90.0, b) for b in burst]
    outage = (30.0, 330.0)
    timeline = Timeline(
        arrivals, events=[(outage[0], world.redis.stop), (outage[1], world.redis.start)]
    )

    # When the senders run through it
    result = run_scenario(world, "redis-down-5min", load, timeline=timeline)

    # Then the limiter ran degraded during the outage, jobs waited by deferral (not one record
    # failed back to the queue, so no receive count was burnt), and the provider never saw more
    # than its rate in any 10 s of the outage
    assert result["limiter_degraded"] > 0
    assert result["deferred"] > 0
    assert result["item_failures"] == 0
    start = world.clock.now - result["stats"].sim_seconds
    during = sorted(
        (t - start, parts)
        for t, parts in world.provider.sends
        if outage[0] <= t - start < outage[1]
    )
    assert during, "nothing was sent during the outage"
    peak = max(sum(p for t, p in during if begin <= t < begin + 10) / 10 for begin, _ in during)
    print(
        f"faults redis-down-5min: outage_sends={len(during)} "
        f"outage_peak_parts_per_s={peak:.1f} rate=100"
    )
    assert peak <= 100


def test_provider_accepts_then_times_out_on_one_call_in_ten(world: World) -> None:
    # Given a provider whose answer is lost after it took 10% of the messages
    world.provider.timeout_after_accept = 0.10

    # When the jobs run, Then nothing is sent twice: the lost answers are UNKNOWN, then DELIVERED
    result = run_scenario(world, "provider-timeout-after-accept", workload(JOBS))
    assert result["unknown_reconciled"] == world.provider.timeouts > JOBS // 20


def test_the_function_dies_after_the_provider_accepted_one_call_in_ten(world: World) -> None:
    # Given an instance that dies right after the provider took 10% of the messages
    world.provider.crash_after_accept = 0.10

    # When the jobs run (a dead invocation's whole batch comes back after its visibility timeout)
    result = run_scenario(world, "crash-after-accept", workload(JOBS))

    # Then each interrupted delivery waited out the dead one, then became UNKNOWN, not a resend
    assert 0 < result["crashed"] <= world.provider.crashes
    assert world.provider.crashes > JOBS // 20
    assert result["unknown_reconciled"] == world.provider.crashes


def test_dynamodb_throttles_one_call_in_five(world: World) -> None:
    world.throttle.rate = 0.20
    result = run_scenario(world, "dynamodb-throttling-20pct", workload(JOBS))
    assert result["throttled_ddb"] > JOBS // 2


def test_sqs_redelivers_whole_batches(world: World) -> None:
    # Given a poller whose deletes are lost for 10% of the batches (a message whose batch is
    # redelivered more than maxReceiveCount times in a row is moved to the DLQ by SQS itself,
    # sent or not: at 10% that is 1e-5 of the jobs; at 30% it was 10 of 2,000)
    result = run_scenario(world, "batch-redelivery", workload(JOBS), lost_delete_rate=0.10)
    assert result["redelivered_batches"] > JOBS // 200
    assert result["stats"].counts["deduplicated"] > JOBS // 20


def test_one_job_in_a_hundred_is_poison(world: World) -> None:
    result = run_scenario(world, "poison-1pct", workload(JOBS, poison_every=100))
    assert result["dead_codes"] == {"MALFORMED_JSON": JOBS // 200, "SCHEMA_VIOLATION": JOBS // 200}
    assert result["dlq_copies"] == result["dlq"] == JOBS // 100


def test_all_faults_at_once(world: World) -> None:
    world.provider.timeout_after_accept = 0.05
    world.provider.crash_after_accept = 0.05
    world.throttle.rate = 0.10
    run_scenario(world, "all-at-once", workload(JOBS, poison_every=100), lost_delete_rate=0.10)
