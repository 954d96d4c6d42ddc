"""The shared GCRA rate limiter against a real redis-server."""

from __future__ import annotations

import dataclasses
import threading
import time
import uuid
from itertools import pairwise

import pytest
import redis

from courier.rate_limit import RateLimitExceeded, RedisRateLimiter


@pytest.fixture
def client(redis_url: str) -> redis.Redis:
    return redis.Redis.from_url(redis_url)


def _key() -> str:
    return f"test:rate:{uuid.uuid4().hex}"


def test_slots_are_spaced_evenly_at_the_rate(client: redis.Redis) -> None:
    # Given a limiter at 5 tokens/s with no burst beyond one
    key = _key()
    limiter = RedisRateLimiter(client, key=key, rate=5, sleep=lambda _: None)

    # When ten single tokens are taken back to back without sleeping
    waits, slots = [], []
    for _ in range(10):
        waits.append(limiter.acquire(1))
        slots.append(int(client.get(key) or 0))  # the reserved schedule, in µs of Redis time

    # Then the first goes at once and each later one is booked exactly 1/5 s after the last
    # (the booked times, not the waits: those also shrink by however long each call took)
    assert waits[0] == pytest.approx(0.0, abs=0.002)
    assert [b - a for a, b in pairwise(slots)] == [200_000] * 9
    assert all(0.1 < wait - previous <= 0.2 for previous, wait in pairwise(waits))


def test_multi_part_messages_take_one_token_per_part(client: redis.Redis) -> None:
    # Given a limiter at 10 tokens/s
    key = _key()
    limiter = RedisRateLimiter(client, key=key, rate=10, sleep=lambda _: None)

    # When a 3-part message and then a 1-part message are sent
    first_wait = limiter.acquire(3)
    after_first = int(client.get(key) or 0)
    second_wait = limiter.acquire(1)
    after_second = int(client.get(key) or 0)

    # Then the 3 parts book 0.3 s of the schedule (the first goes after 0.2 s: one is free),
    # and the single part after them books 0.1 s more
    assert first_wait == pytest.approx(0.2, abs=0.01)
    assert after_second - after_first == 100_000
    assert 0.2 < second_wait <= 0.3


def test_a_wait_beyond_the_budget_reserves_nothing(client: redis.Redis) -> None:
    # Given a slow limiter with a short wait budget, already booked for a second
    key = _key()
    limiter = RedisRateLimiter(client, key=key, rate=1, max_wait_seconds=1.5, sleep=lambda _: None)
    limiter.acquire(1)
    limiter.acquire(1)
    booked = client.get(key)

    # When one more token is asked for
    with pytest.raises(RateLimitExceeded) as raised:
        limiter.acquire(1)

    # Then it is refused with the wait it would have needed, and the schedule is untouched
    assert raised.value.wait_seconds > 1.5
    assert client.get(key) == booked


def test_concurrent_senders_share_one_budget(redis_url: str) -> None:
    # Given three "instances" (own connections) sharing one key at 100 tokens/s
    key = _key()
    limiters = [
        RedisRateLimiter(redis.Redis.from_url(redis_url), key=key, rate=100) for _ in range(3)
    ]
    slots: list[float] = []
    lock = threading.Lock()

    def sender(limiter: RedisRateLimiter) -> None:
        for _ in range(40):
            asked = time.monotonic()
            waited = limiter.acquire(1)
            with lock:
                slots.append(asked + waited)

    # When they all send as fast as they are let through
    threads = [threading.Thread(target=sender, args=(limiter,)) for limiter in limiters]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # Then the slots they were given, together, follow the shared rate, not three times it
    # (slot times, not wake-up times: those add the OS scheduler's jitter on a loaded machine)
    slots.sort()
    rate = (len(slots) - 1) / (slots[-1] - slots[0])
    assert rate == pytest.approx(100, rel=0.05)


def test_a_capped_sender_leaves_the_rest_of_the_budget_to_the_others(redis_url: str) -> None:
    # Given a provider budget of 20 messages/s, the bulk sender capped at half of it
    from courier.settings import Settings
    from courier.sms.wiring import build_rate_limiter

    shared = Settings(
        redis_url=redis_url, sms_rate_limit_mps=20, sms_rate_limit_key=f"test:rate:{uuid.uuid4()}"
    )
    bulk = build_rate_limiter(dataclasses.replace(shared, sms_rate_limit_share=0.5))
    transactional = build_rate_limiter(shared)

    # When bulk sends six messages as fast as it is let through
    started = time.monotonic()
    for _ in range(6):
        bulk.acquire(1)
    elapsed = time.monotonic() - started

    # Then it went at its share (10/s: five intervals of 0.1 s), not the whole budget
    assert elapsed >= 0.45
    # And a one-time code right after finds the shared budget free at once
    assert transactional.acquire(1) <= 0.05 + 0.005
