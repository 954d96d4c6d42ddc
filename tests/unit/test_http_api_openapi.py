"""The committed OpenAPI document: valid, current, and what the running resolver serves."""

from __future__ import annotations

import json
import re
from pathlib import Path

from openapi_spec_validator import validate

from courier.http_api import admin_app, openapi_export
from courier.http_api.routes import ROUTES, app, openapi_document
from tests.harness import ROOT

COMMITTED = ROOT / "schemas" / "openapi.json"


def test_the_committed_document_is_a_valid_openapi_document() -> None:
    validate(json.loads(COMMITTED.read_text(encoding="utf-8")))


def test_the_committed_document_matches_the_running_resolver() -> None:
    assert COMMITTED.read_text(encoding="utf-8") == openapi_export.render(), (
        "schemas/openapi.json is out of date: run python -m courier.http_api.openapi_export"
    )


def test_the_check_mode_passes_on_the_committed_file_and_fails_on_a_stale_one(
    tmp_path: Path,
) -> None:
    assert openapi_export.main(["--check", "--dir", str(COMMITTED.parent)]) == 0
    (tmp_path / "openapi.json").write_text("{}\n", encoding="utf-8")
    assert openapi_export.main(["--check", "--dir", str(tmp_path)]) == 1
    assert openapi_export.main(["--dir", str(tmp_path)]) == 0
    assert openapi_export.main(["--check", "--dir", str(tmp_path)]) == 0


def test_the_405_route_table_matches_the_documented_routes() -> None:
    paths = openapi_document()["paths"]
    documented = {path: frozenset(m.upper() for m in ops) for path, ops in paths.items()}
    assert documented == ROUTES | admin_app.ADMIN_ROUTES


def test_every_registered_route_is_documented() -> None:
    # Given the public and the admin resolver (two functions behind one HTTP API)
    for resolver, routes in ((app, ROUTES), (admin_app.app, admin_app.ADMIN_ROUTES)):
        registered = {
            re.sub(r"<(\w+)>", r"{\1}", route.path)
            for route in resolver._static_routes + resolver._dynamic_routes
        }
        # Then each registers exactly its own route table
        assert registered == set(routes)
    assert not any(path.startswith("/api/admin/") for path in ROUTES)


def test_errors_are_documented_with_the_error_shape() -> None:
    document = openapi_document()
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            for status, response in operation["responses"].items():
                if status.startswith(("4", "5")) and status != "502":
                    ref = response["content"]["application/json"]["schema"]["$ref"]
                    assert ref.endswith("/ErrorBody"), (path, method, status)
    schemes = document["components"]["securitySchemes"]
    assert schemes["chatToken"]["scheme"] == "bearer"
    assert document["paths"]["/api/sms"]["post"]["security"] == [{"sigv4": []}]
