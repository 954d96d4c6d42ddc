"""The SmsJob v1 contract: the pydantic model, the committed JSON Schema, and their agreement."""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from pydantic import ValidationError

from courier import schema_export
from courier.sms.contract import (
    MAX_BODY_CHARS,
    MAX_METADATA_BYTES,
    MAX_METADATA_KEYS,
    Priority,
    SmsJob,
    sms_job_json_schema,
)

ROOT = Path(__file__).resolve().parents[2]
SCHEMA_PATH = ROOT / "schemas" / "sms-job.v1.schema.json"
NUMBER = "+821012345678"

RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})\Z")


def base(**fields: Any) -> dict[str, Any]:
    return {"job_id": "job-1", "to": NUMBER, "body": "hello", **fields}


def metadata_of_size(size: int) -> dict[str, Any]:
    """One key whose compact JSON ({"k":"vvv..."}) is exactly `size` bytes."""
    overhead = len('{"k":""}')
    return {"k": "v" * (size - overhead)}


def is_model_valid(data: dict[str, Any]) -> bool:
    try:
        SmsJob.model_validate_json(json.dumps(data))
    except ValidationError:
        return False
    return True


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return data


@pytest.fixture(scope="module")
def validator(schema: dict[str, Any]) -> jsonschema.Draft202012Validator:
    """A validator that asserts formats too; date-time is checked as strict RFC 3339."""
    checker = jsonschema.FormatChecker()

    @checker.checks("date-time", raises=ValueError)
    def _rfc3339(value: object) -> bool:
        if not isinstance(value, str):
            return True
        if not RFC3339.match(value):
            return False
        datetime.fromisoformat(value.replace("z", "Z"))  # raises on impossible dates
        return True

    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema, format_checker=checker)


# The committed schema ----------------------------------------------------------------------


def test_schema_file_matches_the_model(schema: dict[str, Any]) -> None:
    # Given the committed schema file / When compared with the model's schema / Then equal
    assert schema == sms_job_json_schema()
    # And it is written exactly as the exporter writes it (sorted keys, trailing newline)
    text = SCHEMA_PATH.read_text(encoding="utf-8")
    assert text == schema_export.render(schema_export.SMS_JOB)
    assert text.endswith("}\n")


def test_schema_states_the_essentials(schema: dict[str, Any]) -> None:
    # Given the committed schema / Then it closes the object and names the required fields
    assert schema["$id"].endswith("/sms-job.v1.schema.json")
    assert schema["additionalProperties"] is False
    assert sorted(schema["required"]) == ["body", "job_id", "to"]
    assert schema["properties"]["schema_version"]["const"] == 1
    assert schema["properties"]["body"]["maxLength"] == MAX_BODY_CHARS
    assert schema["properties"]["metadata"]["maxProperties"] == MAX_METADATA_KEYS
    assert schema["$defs"]["Priority"]["enum"] == [p.value for p in Priority]


def test_export_check_passes_on_the_committed_files(capsys: pytest.CaptureFixture[str]) -> None:
    # When the exporter checks the repository's schemas/ / Then every file is current
    assert schema_export.main(["--check"]) == 0
    assert schema_export.default_dir() == SCHEMA_PATH.parent
    assert sorted(schema_export.CONTRACTS) == sorted(p.name for p in SCHEMA_PATH.parent.iterdir())


def test_export_check_fails_on_a_stale_or_missing_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given current schema files, the SMS one then edited by hand
    assert schema_export.main(["--dir", str(tmp_path)]) == 0
    stale = tmp_path / schema_export.SMS_JOB
    stale.write_text(stale.read_text().replace('"maxLength": 1600', '"maxLength": 160'))
    capsys.readouterr()
    # When checked / Then the check fails and shows the difference, naming the file
    assert schema_export.main(["--check", "--dir", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert '"maxLength": 1600' in err
    assert f"{stale}: out of date" in err
    # And a missing file fails too
    stale.unlink()
    assert schema_export.main(["--check", "--dir", str(tmp_path)]) == 1
    assert f"{stale}: missing" in capsys.readouterr().err


def test_export_writes_the_file(tmp_path: Path) -> None:
    # Given no directory / When exported / Then every file is written and passes the check
    target = tmp_path / "schemas"
    assert schema_export.main(["--dir", str(target)]) == 0
    for name in schema_export.CONTRACTS:
        assert (target / name).read_text(encoding="utf-8") == schema_export.render(name)
    assert schema_export.main(["--check", "--dir", str(target)]) == 0
    # And the SMS file is byte for byte the committed one
    assert (target / schema_export.SMS_JOB).read_bytes() == SCHEMA_PATH.read_bytes()


# The model -------------------------------------------------------------------------------

CASES: list[tuple[str, dict[str, Any], bool]] = [
    ("minimal", base(), True),
    ("all fields", base(
        schema_version=1, origination="Courier", priority="bulk",
        send_at="2026-03-01T09:00:00+09:00",
        metadata={"a": "x", "b": 1, "c": 1.5, "d": True, "e": None},
    ), True),
    # job_id
    ("job_id 128", base(job_id="a" * 128), True),
    ("job_id 129", base(job_id="a" * 129), False),
    ("job_id empty", base(job_id=""), False),
    ("job_id punctuation", base(job_id="campaign:2026.03_u-1"), True),
    ("job_id space", base(job_id="has space"), False),
    ("job_id slash", base(job_id="a/b"), False),
    ("job_id hangul", base(job_id="작업1"), False),
    ("job_id number", base(job_id=123), False),
    ("job_id missing", {"to": NUMBER, "body": "hello"}, False),
    # to (E.164)
    ("to 7 digits", base(to="+1234567"), True),
    ("to 15 digits", base(to="+123456789012345"), True),
    ("to 6 digits", base(to="+123456"), False),
    ("to 16 digits", base(to="+1234567890123456"), False),
    ("to no plus", base(to="821012345678"), False),
    ("to leading zero", base(to="+0821012345678"), False),
    ("to national", base(to="01012345678"), False),
    ("to spaces", base(to="+82 10 1234 5678"), False),
    ("to missing", {"job_id": "j", "body": "hello"}, False),
    # body
    ("body empty", base(body=""), False),
    ("body 1600", base(body="x" * MAX_BODY_CHARS), True),
    ("body 1601", base(body="x" * (MAX_BODY_CHARS + 1)), False),
    ("body 1600 hangul", base(body="가" * MAX_BODY_CHARS), True),
    ("body 1600 emoji", base(body="😀" * MAX_BODY_CHARS), True),
    ("body null", base(body=None), False),
    # origination
    ("origination sender id", base(origination="Courier"), True),
    ("origination arn", base(
        origination="arn:aws:sms-voice:ap-northeast-2:123456789012:pool/pool-abc"
    ), True),
    ("origination null", base(origination=None), True),
    ("origination space", base(origination="My Shop"), False),
    ("origination 257", base(origination="a" * 257), False),
    # priority
    ("priority bulk", base(priority="bulk"), True),
    ("priority unknown", base(priority="urgent"), False),
    ("priority upper", base(priority="BULK"), False),
    # send_at
    ("send_at Z", base(send_at="2026-03-01T00:00:00Z"), True),
    ("send_at offset", base(send_at="2026-03-01T09:00:00.250+09:00"), True),
    ("send_at null", base(send_at=None), True),
    ("send_at naive", base(send_at="2026-03-01T09:00:00"), False),
    ("send_at date only", base(send_at="2026-03-01"), False),
    ("send_at garbage", base(send_at="tomorrow"), False),
    ("send_at impossible", base(send_at="2026-02-30T09:00:00Z"), False),
    # metadata (shape and key count)
    ("metadata 32 keys", base(metadata={f"k{i}": i for i in range(MAX_METADATA_KEYS)}), True),
    ("metadata 33 keys", base(metadata={f"k{i}": i for i in range(MAX_METADATA_KEYS + 1)}), False),
    ("metadata nested object", base(metadata={"a": {"b": 1}}), False),
    ("metadata list", base(metadata={"a": [1]}), False),
    ("metadata not object", base(metadata=["a"]), False),
    # the object itself
    ("unknown field", base(callback_url="https://example.com"), False),
    ("schema_version 2", base(schema_version=2), False),
    ("schema_version 0", base(schema_version=0), False),
    ("schema_version string", base(schema_version="1"), False),
]  # fmt: skip


@pytest.mark.parametrize(("data", "valid"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_model_accepts_and_rejects(data: dict[str, Any], valid: bool) -> None:
    # Given a job as JSON / When the model validates it / Then it is accepted iff valid
    assert is_model_valid(data) is valid


@pytest.mark.parametrize(("data", "valid"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_schema_agrees_with_the_model(
    validator: jsonschema.Draft202012Validator, data: dict[str, Any], valid: bool
) -> None:
    # Given the same job / When the committed schema validates it / Then the verdict is the same
    errors = list(validator.iter_errors(data))
    assert (not errors) is valid, [e.message for e in errors]


@pytest.mark.parametrize(
    ("size", "valid"), [(MAX_METADATA_BYTES, True), (MAX_METADATA_BYTES + 1, False)]
)
def test_metadata_byte_limit(size: int, valid: bool) -> None:
    # Given metadata whose compact JSON is `size` bytes / Then the model enforces 2048
    assert is_model_valid(base(metadata=metadata_of_size(size))) is valid


def test_metadata_byte_limit_counts_utf8_bytes() -> None:
    # Given 700 Hangul syllables (2100 UTF-8 bytes, 700 characters) / Then it is too big
    assert not is_model_valid(base(metadata={"k": "가" * 700}))


def test_metadata_byte_limit_is_the_one_rule_the_schema_cannot_express(
    validator: jsonschema.Draft202012Validator,
) -> None:
    # Given metadata over 2048 bytes but within 32 keys
    data = base(metadata=metadata_of_size(MAX_METADATA_BYTES + 1))
    # Then the schema lets it through and the model (the sender) rejects it: docs/producers.md
    # tells producers in other languages to check the size themselves
    assert validator.is_valid(data)
    assert not is_model_valid(data)


@pytest.mark.parametrize("field", ["job_id", "to"])
def test_patterns_are_anchored_at_the_very_end(field: str) -> None:
    # Given a value that is valid but for a trailing newline (Python's `re` lets `$` match
    # before it, so python-jsonschema accepts it; ECMA-262 and the model's regex engine do not)
    data = base(**{field: base()[field] + "\n"})
    # Then the model, which the sender runs, rejects it
    assert not is_model_valid(data)


def test_model_defaults_and_normalisation() -> None:
    # Given a minimal job / When validated / Then the defaults are filled in
    job = SmsJob.model_validate(base())
    assert job.schema_version == 1
    assert job.priority is Priority.TRANSACTIONAL
    assert job.metadata == {}
    assert job.origination is None
    assert job.send_at is None
    # And the model is frozen
    with pytest.raises(ValidationError):
        job.body = "changed"  # type: ignore[misc]


def test_every_dumped_job_is_schema_valid(validator: jsonschema.Draft202012Validator) -> None:
    # Given every valid case / When dumped as the producer does / Then the schema accepts it
    for label, data, valid in CASES:
        if valid:
            body = json.loads(SmsJob.model_validate(data).model_dump_json(exclude_none=True))
            assert validator.is_valid(body), label


def test_example_jobs_are_valid(validator: jsonschema.Draft202012Validator) -> None:
    # Given examples/jobs.jsonl / Then every line is valid for both the schema and the model
    lines = (ROOT / "examples" / "jobs.jsonl").read_text(encoding="utf-8").splitlines()
    jobs = [json.loads(line) for line in lines if line.strip()]
    assert 3 <= len(jobs) <= 4
    for data in jobs:
        assert validator.is_valid(data), data["job_id"]
        assert is_model_valid(data), data["job_id"]
    assert len({d["job_id"] for d in jobs}) == len(jobs)
