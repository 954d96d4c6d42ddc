"""The admin routes through the admin function's handler in-process, the JWKS on loopback HTTP.

No emulator and no authorizer in front: the function's own verification is what answers (401,
403, 200), with the signing keys fetched over HTTP from a local server as from Cognito.
"""

from __future__ import annotations

import copy
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlencode

import pytest

import admin_api as admin_handler
from courier.admin import identity
from courier.admin.audit import AuditActor, AuditLog
from courier.admin.audit_store import MySqlAuditStore
from courier.data import connections
from courier.data.connections import Database
from courier.http_api import wiring
from courier.settings import get_settings
from local.mariadb_server import MariaDbServer
from tests.admin_tokens import CLIENT_ID, ISSUER, FakeUserPool
from tests.harness import FakeLambdaContext, load_event

ORIGIN_SECRET = "local-origin-secret"


class JwksServer:
    """Serves a pool's JWKS document on 127.0.0.1 and counts the requests."""

    def __init__(self, pool: FakeUserPool) -> None:
        self.pool = pool
        self.requests = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.requests += 1
                body = json.dumps(server.pool.jwks()).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self._http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._http.server_port}/pool/.well-known/jwks.json"
        self._thread = threading.Thread(target=self._http.serve_forever, daemon=True)

    def __enter__(self) -> JwksServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._http.shutdown()
        self._http.server_close()


@pytest.fixture
def pool() -> FakeUserPool:
    return FakeUserPool()


def _clear_caches() -> None:
    get_settings.cache_clear()
    identity._cached_verifier.cache_clear()
    wiring.audit_log.cache_clear()
    connections.shared_database.cache_clear()


@pytest.fixture
def jwks(pool: FakeUserPool, monkeypatch: pytest.MonkeyPatch) -> Iterator[JwksServer]:
    with JwksServer(pool) as server:
        for name, value in {
            "ORIGIN_VERIFY_SECRET": ORIGIN_SECRET,
            "ADMIN_TOKEN_ISSUER": ISSUER,
            "ADMIN_CLIENT_ID": CLIENT_ID,
            "ADMIN_JWKS_URL": server.url,
        }.items():
            monkeypatch.setenv(name, value)
        _clear_caches()
        yield server
        _clear_caches()


@pytest.fixture
def audit(
    jwks: JwksServer, database: Database, mariadb: MariaDbServer, monkeypatch: pytest.MonkeyPatch
) -> AuditLog:
    """The migrated database behind the API function's settings; a log to seed it with."""
    monkeypatch.setenv("DATABASE_URL", mariadb.writer_url)
    monkeypatch.setenv("DATABASE_READER_URL", mariadb.reader_url)
    _clear_caches()
    return AuditLog(MySqlAuditStore(database))


def call(
    path: str,
    token: str | None,
    *,
    method: str = "GET",
    query: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], Any]:
    event = copy.deepcopy(load_event("admin/get-me.json"))
    event["rawPath"] = event["requestContext"]["http"]["path"] = path
    event["requestContext"]["http"]["method"] = method
    event["pathParameters"] = {"proxy": path.removeprefix("/api/admin/")}
    # The authorizer's claims are what API Gateway would add; the function never trusts them.
    event["requestContext"].pop("authorizer")
    if token is None:
        event["headers"].pop("authorization")
    else:
        event["headers"]["authorization"] = f"Bearer {token}"
    if query:
        event["queryStringParameters"] = query
        event["rawQueryString"] = urlencode(query)
    response = admin_handler.handler(event, FakeLambdaContext())
    return response["statusCode"], response.get("headers", {}), json.loads(response["body"])


# ---- GET /api/admin/me ------------------------------------------------------------------------


def test_an_admin_sees_who_they_are(pool: FakeUserPool, jwks: JwksServer) -> None:
    token = pool.access_token("alice", ["admin"])

    status, _, body = call("/api/admin/me", token)

    assert status == 200
    assert body["username"] == "alice"
    assert body["groups"] == ["admin"]
    assert body["sub"]
    assert jwks.requests == 1  # the keys were fetched over HTTP, once


def test_no_token_is_401_with_a_bearer_challenge(jwks: JwksServer) -> None:
    status, headers, body = call("/api/admin/me", None)

    assert status == 401
    assert headers.get("WWW-Authenticate") == "Bearer"
    assert body["code"] == "unauthorized"
    assert jwks.requests == 0


def test_a_garbage_token_is_401(jwks: JwksServer) -> None:
    status, _, body = call("/api/admin/me", "not-a-jwt")

    assert (status, body["code"]) == (401, "unauthorized")


def test_an_expired_token_is_401(pool: FakeUserPool, jwks: JwksServer) -> None:
    token = pool.access_token(
        "alice", ["admin"], issued_at=datetime.now(UTC).timestamp() - 7200, lifetime=3600
    )

    status, _, body = call("/api/admin/me", token)

    assert status == 401
    assert "expired" in body["message"]


def test_a_token_for_another_client_is_401(pool: FakeUserPool, jwks: JwksServer) -> None:
    status, _, _ = call("/api/admin/me", pool.access_token("alice", ["admin"], client_id="x"))

    assert status == 401


def test_a_signed_in_non_admin_is_403(pool: FakeUserPool, jwks: JwksServer) -> None:
    status, headers, body = call("/api/admin/me", pool.access_token("bob", ["readers"]))

    assert status == 403
    assert body["code"] == "forbidden"
    assert "WWW-Authenticate" not in headers


def test_a_rotated_key_is_fetched_once(pool: FakeUserPool, jwks: JwksServer) -> None:
    assert call("/api/admin/me", pool.access_token("alice", ["admin"]))[0] == 200
    key = pool.rotate("key-2")
    # The refresh cooldown starts at the first fetch: step past it.
    verifier = wiring.admin_verifier(get_settings())
    verifier._jwks._last_successful_fetch = 0.0  # type: ignore[attr-defined]

    status, _, body = call("/api/admin/me", pool.access_token("carol", ["admin"], key=key))

    assert (status, body["username"]) == (200, "carol")
    assert jwks.requests == 2


def test_an_unconfigured_function_answers_503(
    pool: FakeUserPool, jwks: JwksServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ADMIN_TOKEN_ISSUER")
    _clear_caches()

    status, _, body = call("/api/admin/me", pool.access_token("alice", ["admin"]))

    assert (status, body["code"]) == (503, "sign_in_unavailable")


def test_a_wrong_method_is_405_and_an_unknown_admin_path_404(
    pool: FakeUserPool, jwks: JwksServer
) -> None:
    token = pool.access_token("alice", ["admin"])

    assert call("/api/admin/me", token, method="POST")[0] == 405
    assert call("/api/admin/nothing-here", token)[0] == 404


# ---- GET /api/admin/audit ---------------------------------------------------------------------


def test_the_audit_page_lists_entries_newest_first_with_a_cursor(
    pool: FakeUserPool, audit: AuditLog
) -> None:
    actor = AuditActor(sub="s-1", username="alice")
    for i in range(3):
        audit.record(actor, "optout.add", f"+8210****000{i}", after={"opted_out": True})
    token = pool.access_token("alice", ["admin"])

    status, _, first = call("/api/admin/audit", token, query={"limit": "2"})
    _, _, second = call(
        "/api/admin/audit", token, query={"limit": "2", "cursor": first["next_cursor"]}
    )

    assert status == 200
    assert [e["target"] for e in first["entries"]] == ["+8210****0002", "+8210****0001"]
    assert [e["target"] for e in second["entries"]] == ["+8210****0000"]
    assert second["next_cursor"] is None
    entry = first["entries"][0]
    assert entry["actor"] == {"sub": "s-1", "username": "alice"}
    assert entry["after"] == {"opted_out": True}
    assert entry["action"] == "optout.add"
    assert entry["at"].endswith("Z") or entry["at"].endswith("+00:00")


def test_the_audit_page_filters(pool: FakeUserPool, audit: AuditLog) -> None:
    now = datetime.now(UTC)
    audit.record(AuditActor(sub="s-1", username="alice"), "sms.redrive", "job-1")
    audit.record(AuditActor(sub="s-2", username="bob"), "optout.add", "n-1")
    token = pool.access_token("alice", ["admin"])

    _, _, by_bob = call("/api/admin/audit", token, query={"actor": "bob"})
    _, _, sms = call("/api/admin/audit", token, query={"action": "sms.*"})
    _, _, later = call(
        "/api/admin/audit",
        token,
        query={"from": (now + timedelta(hours=1)).isoformat()},
    )

    assert [e["target"] for e in by_bob["entries"]] == ["n-1"]
    assert [e["target"] for e in sms["entries"]] == ["job-1"]
    assert later["entries"] == []


def test_bad_audit_queries_are_clear_errors(pool: FakeUserPool, audit: AuditLog) -> None:
    token = pool.access_token("alice", ["admin"])

    cursor = call("/api/admin/audit", token, query={"cursor": "bm90LWEtY3Vyc29y"})
    naive = call("/api/admin/audit", token, query={"from": "2026-05-01T00:00:00"})
    reversed_range = call(
        "/api/admin/audit",
        token,
        query={"from": "2026-05-02T00:00:00Z", "to": "2026-05-01T00:00:00Z"},
    )
    limit = call("/api/admin/audit", token, query={"limit": "500"})

    assert (cursor[0], cursor[2]["code"]) == (400, "bad_cursor")
    assert (naive[0], naive[2]["code"]) == (422, "validation_error")
    assert (reversed_range[0], reversed_range[2]["code"]) == (400, "invalid_filter")
    assert (limit[0], limit[2]["code"]) == (422, "validation_error")


def test_the_audit_page_is_for_admins_only(pool: FakeUserPool, audit: AuditLog) -> None:
    audit.record(AuditActor(sub="s-1", username="alice"), "sms.redrive", "job-1")

    assert call("/api/admin/audit", None)[0] == 401
    status, _, body = call("/api/admin/audit", pool.access_token("bob", ["readers"]))
    assert status == 403
    assert "entries" not in body
