"""Write (or check) schemas/openapi.json, the HTTP API's OpenAPI document, from the resolver.

python -m courier.http_api.openapi_export            # rewrite schemas/openapi.json
python -m courier.http_api.openapi_export --check    # exit 1 (with a diff) when out of date
"""

from __future__ import annotations

import argparse
import difflib
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Final

from courier import schema_export
from courier.schema_export import default_dir

FILE_NAME: Final = schema_export.OPENAPI


def render() -> str:
    """The document as committed (`python -m courier.schema_export` writes it too)."""
    return schema_export.render(FILE_NAME)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m courier.http_api.openapi_export")
    parser.add_argument("--check", action="store_true", help="fail when the file is out of date")
    parser.add_argument("--dir", type=Path, default=None, help="schemas directory")
    args = parser.parse_args(argv)
    path = (args.dir or default_dir()) / FILE_NAME
    expected = render()
    if args.check:
        try:
            current = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            current = ""
        if current == expected:
            print(f"{path}: up to date", file=sys.stderr)
            return 0
        diff = difflib.unified_diff(
            current.splitlines(keepends=True),
            expected.splitlines(keepends=True),
            fromfile=str(path),
            tofile="generated",
        )
        sys.stderr.writelines(diff)
        print(
            f"{path}: out of date; run python -m courier.http_api.openapi_export", file=sys.stderr
        )
        return 1
    path.write_text(expected, encoding="utf-8")
    print(f"wrote {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
