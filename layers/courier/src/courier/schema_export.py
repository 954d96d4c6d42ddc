"""Write (or check) the committed JSON Schema files of every public contract under schemas/,
and the HTTP API's OpenAPI document (schemas/openapi.json).

python -m courier.schema_export            # rewrite schemas/* from the models and the resolver
python -m courier.schema_export --check    # exit 1 (with a diff) when any file is out of date
"""

from __future__ import annotations

import argparse
import difflib
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Final

from courier.chat.frames import client_frame_json_schema, server_event_json_schema
from courier.sms.contract import sms_job_json_schema

SCHEMA_DIR: Final = Path("schemas")
SMS_JOB: Final = "sms-job.v1.schema.json"
CHAT_CLIENT_FRAME: Final = "chat-client-frame.v1.schema.json"
CHAT_SERVER_EVENT: Final = "chat-server-event.v1.schema.json"
OPENAPI: Final = "openapi.json"


def _http_api_openapi() -> dict[str, object]:
    """The HTTP API's OpenAPI document (imported lazily: it loads the whole resolver)."""
    from courier.http_api.routes import openapi_document

    return dict(openapi_document())


# File name under schemas/ -> the model's schema. A new version is a new entry, never an edit.
CONTRACTS: Final[dict[str, Callable[[], dict[str, object]]]] = {
    SMS_JOB: sms_job_json_schema,
    CHAT_CLIENT_FRAME: client_frame_json_schema,
    CHAT_SERVER_EVENT: server_event_json_schema,
    OPENAPI: _http_api_openapi,
}
_COMMAND: Final = "python -m courier.schema_export"


def render(file_name: str) -> str:
    """One schema as committed: two-space indent, sorted keys, UTF-8, trailing newline."""
    schema = CONTRACTS[file_name]()
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def render_sms_job() -> str:
    """The SmsJob v1 schema file's text (what `sms schema` prints)."""
    return render(SMS_JOB)


def default_dir() -> Path:
    """schemas/ in the repository holding this module, else under the working directory."""
    for parent in Path(__file__).resolve().parents:
        if (parent / "pyproject.toml").is_file() and (parent / SCHEMA_DIR).is_dir():
            return parent / SCHEMA_DIR
    return Path.cwd() / SCHEMA_DIR


def _is_current(path: Path, expected: str) -> bool:
    try:
        current = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        print(f"{path}: missing; run {_COMMAND}", file=sys.stderr)
        return False
    if current == expected:
        print(f"{path}: up to date", file=sys.stderr)
        return True
    diff = difflib.unified_diff(
        current.splitlines(keepends=True),
        expected.splitlines(keepends=True),
        fromfile=f"{path} (committed)",
        tofile=f"{path} (from the model)",
    )
    sys.stderr.writelines(diff)
    print(f"{path}: out of date; run {_COMMAND}", file=sys.stderr)
    return False


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog=_COMMAND,
        description="Write the JSON Schema file of every public contract from its pydantic model.",
    )
    parser.add_argument("--check", action="store_true", help="exit 1 if any file is not current")
    parser.add_argument(
        "--dir",
        type=Path,
        default=None,
        help=f"schema directory (default: {SCHEMA_DIR}/ in the repo)",
    )
    args = parser.parse_args(argv)
    directory: Path = args.dir or default_dir()

    if args.check:
        # Check every file (not stop at the first) so one run shows all that are stale.
        results = [_is_current(directory / name, render(name)) for name in CONTRACTS]
        return 0 if all(results) else 1

    directory.mkdir(parents=True, exist_ok=True)
    for name in CONTRACTS:
        path = directory / name
        path.write_text(render(name), encoding="utf-8")
        print(f"wrote {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
