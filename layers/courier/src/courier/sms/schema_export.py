"""Write (or check) the committed JSON Schema of the `SmsJob` v1 contract.

python -m courier.sms.schema_export            # rewrite schemas/sms-job.v1.schema.json
python -m courier.sms.schema_export --check    # exit 1 when the file is out of date
"""

from __future__ import annotations

import argparse
import difflib
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from courier.sms.contract import sms_job_json_schema

SCHEMA_FILE = Path("schemas") / "sms-job.v1.schema.json"


def render() -> str:
    """The schema as committed: two-space indent, sorted keys, UTF-8, trailing newline."""
    return json.dumps(sms_job_json_schema(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def default_path() -> Path:
    """schemas/ in the repository holding this module, else under the working directory."""
    for parent in Path(__file__).resolve().parents:
        if (parent / "pyproject.toml").is_file() and (parent / "schemas").is_dir():
            return parent / SCHEMA_FILE
    return Path.cwd() / SCHEMA_FILE


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m courier.sms.schema_export",
        description="Write the SmsJob v1 JSON Schema file from the pydantic model.",
    )
    parser.add_argument("--check", action="store_true", help="exit 1 if the file is not current")
    parser.add_argument(
        "--path", type=Path, default=None, help=f"schema file (default: {SCHEMA_FILE} in the repo)"
    )
    args = parser.parse_args(argv)
    path: Path = args.path or default_path()
    expected = render()

    if args.check:
        try:
            current = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            print(f"{path}: missing; run python -m courier.sms.schema_export", file=sys.stderr)
            return 1
        if current == expected:
            print(f"{path}: up to date", file=sys.stderr)
            return 0
        diff = difflib.unified_diff(
            current.splitlines(keepends=True),
            expected.splitlines(keepends=True),
            fromfile=f"{path} (committed)",
            tofile=f"{path} (from the model)",
        )
        sys.stderr.writelines(diff)
        print(f"{path}: out of date; run python -m courier.sms.schema_export", file=sys.stderr)
        return 1

    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(expected, encoding="utf-8")
    print(f"wrote {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
