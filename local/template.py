"""template.yaml and the events/ files, read the way the tests, benchmarks and local tools need."""

from __future__ import annotations

import json
from typing import Any

from local.toolchain import ROOT

EVENTS = ROOT / "events"


def load_event(relative: str) -> dict[str, Any]:
    """An event file from events/ (the same files `sam local invoke -e` uses)."""
    data: dict[str, Any] = json.loads((EVENTS / relative).read_text())
    return data


def template() -> dict[str, Any]:
    """template.yaml as cfn-lint decodes it (intrinsic functions as `Ref`/`Fn::*` mappings)."""
    from cfnlint.decode import decode_str

    decoded, matches = decode_str((ROOT / "template.yaml").read_text())
    assert not matches, matches
    return dict(decoded)


def template_resources() -> dict[str, Any]:
    resources: dict[str, Any] = template()["Resources"]
    return resources
