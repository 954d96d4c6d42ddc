"""Fixtures for every suite: fake AWS credentials, a private redis-server, fresh settings."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from tests.harness import REGION, FakeLambdaContext, redis_server
from tests.iam_check import plugin as iam_check_plugin


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fake credentials and region so nothing can reach a real account."""
    for name, value in {
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "POWERTOOLS_METRICS_NAMESPACE": "Courier",
        "POWERTOOLS_SERVICE_NAME": "courier",
        "POWERTOOLS_TRACE_DISABLED": "true",
    }.items():
        monkeypatch.setenv(name, value)
    for name in [n for n in os.environ if n.startswith("AWS_ENDPOINT_URL")] + ["AWS_PROFILE"]:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    with redis_server() as url:
        yield url


@pytest.fixture(autouse=True)
def _fresh_settings() -> Iterator[None]:
    """Settings are cached per process; every test reads its own environment."""
    from courier.settings import get_settings

    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture
def lambda_context() -> object:
    return FakeLambdaContext()


# The IAM check (tests/iam_check): once per run, over the integration and e2e suites' calls
# (under pytest-xdist: on the controller, over every worker's calls).
def pytest_sessionfinish(session: pytest.Session) -> None:
    iam_check_plugin.finish(session)


@pytest.hookimpl(optionalhook=True)  # pytest-xdist's hook, on the controller
def pytest_testnodedown(node: Any, error: object) -> None:
    iam_check_plugin.merge(node.gateway.id, getattr(node, "workeroutput", None))


def pytest_terminal_summary(terminalreporter: Any) -> None:
    iam_check_plugin.summary(terminalreporter)
