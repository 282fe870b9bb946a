"""Token buckets per caller, and the 429 with Retry-After."""

from __future__ import annotations

import pytest

from api.ratelimit import MAX_BUCKETS, RateLimiter, retry_after_header


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_caller_may_burst_up_to_the_limit_then_waits():
    clock = Clock()
    limiter = RateLimiter(60, clock=clock)
    assert all(limiter.acquire("a") is None for _ in range(60))
    wait = limiter.acquire("a")
    assert wait == pytest.approx(1.0)
    clock.now += 0.5
    assert limiter.acquire("a") == pytest.approx(0.5)
    clock.now += 0.5
    assert limiter.acquire("a") is None


def test_callers_have_separate_buckets():
    limiter = RateLimiter(1, clock=Clock())
    assert limiter.acquire("key:0") is None
    assert limiter.acquire("key:0") == pytest.approx(60.0)
    assert limiter.acquire("key:1") is None


def test_buckets_refill_to_capacity_only():
    clock = Clock()
    limiter = RateLimiter(2, clock=clock)
    clock.now += 3600
    assert [limiter.acquire("a") for _ in range(3)][:2] == [None, None]
    assert limiter.acquire("a") is not None


def test_full_buckets_are_pruned_when_there_are_too_many_callers():
    clock = Clock()
    limiter = RateLimiter(10, clock=clock)
    for n in range(MAX_BUCKETS):
        limiter.acquire(f"ip:{n}")
    clock.now += 60  # every bucket is full again
    limiter.acquire("ip:new")
    assert len(limiter._buckets) == 1


def test_zero_per_minute_is_refused():
    with pytest.raises(ValueError):
        RateLimiter(0)


@pytest.mark.parametrize(("wait", "header"), [(0.01, "1"), (1.0, "1"), (1.2, "2"), (59.5, "60")])
def test_retry_after_is_whole_seconds_rounded_up(wait, header):
    assert retry_after_header(wait) == header


def test_the_api_answers_429_with_retry_after_per_client(make_client):
    client = make_client(rate_limit_per_minute=2)
    assert client.post("/v1/answer", json={"question": "renewal"}).status_code == 200
    assert client.get("/v1/sources").status_code == 200
    r = client.post("/v1/search", json={"question": "renewal"})
    assert r.status_code == 429
    assert r.json()["error"]["code"] == "rate_limited"
    assert 1 <= int(r.headers["retry-after"]) <= 30
    # operator routes are not limited
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code == 200
    assert client.get("/metrics").status_code == 200


def test_the_limit_is_per_api_key(make_client):
    client = make_client(api_keys=("k1", "k2"), rate_limit_per_minute=1)
    assert client.get("/v1/sources", headers={"x-api-key": "k1"}).status_code == 200
    assert client.get("/v1/sources", headers={"x-api-key": "k1"}).status_code == 429
    assert client.get("/v1/sources", headers={"authorization": "Bearer k2"}).status_code == 200
    # a caller without a valid key is refused before it can use anyone's tokens
    assert client.get("/v1/sources", headers={"x-api-key": "nope"}).status_code == 401


def test_zero_disables_the_limit(make_client):
    client = make_client(rate_limit_per_minute=0)
    assert all(client.get("/v1/sources").status_code == 200 for _ in range(50))
