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


E2E = "tests/e2e/"


@pytest.hookimpl(optionalhook=True)  # pytest-xdist's hook, on the controller
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """Under `-n` (`--dist load`, the default, or `loadgroup`): one worker runs every e2e test, in
    collection order (tests/e2e/conftest.py puts test_invoke_events.py last), against the one
    local runtime they share; the other tests go out a module at a time, the largest first (the
    e2e suite is the largest, so its worker starts on it at once). xdist's own `loadgroup`
    (xdist_group markers) cannot do it here: it renames the test's `_nodeid`, which pytest 9.2's
    nodes no longer read, so every e2e test would be a group of its own."""
    if config.getvalue("dist") not in {"load", "loadgroup"}:
        return None  # --dist loadfile, loadscope, worksteal, each: as the option says
    from xdist.scheduler import LoadScopeScheduling

    class E2eTogether(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return E2E if nodeid.startswith(E2E) else super()._split_scope(nodeid)

    return E2eTogether(config, log)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    iam_check_plugin.summary(terminalreporter)
