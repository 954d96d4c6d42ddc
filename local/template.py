"""template.yaml and the events/ files, read the way the tests, benchmarks and local tools need."""

from __future__ import annotations

import copy
import hashlib
import json
from typing import Any

from local.toolchain import ROOT

EVENTS = ROOT / "events"
TEMPLATE = ROOT / "template.yaml"

# The last decoded template.yaml, keyed by the sha256 of its text: cfn-lint's decoder takes
# ~0.2 s a call (template.yaml is ~280 kB) and the suites ask for it from dozens of tests and
# from every moto table they create. Callers get deep copies, so none sees another's changes.
_decoded: dict[str, dict[str, Any]] = {}


def load_event(relative: str) -> dict[str, Any]:
    """An event file from events/ (the same files `sam local invoke -e` uses)."""
    data: dict[str, Any] = json.loads((EVENTS / relative).read_text())
    return data


def _decoded_template() -> dict[str, Any]:
    """The decoded template.yaml as it is now on disk, decoded once per content."""
    text = TEMPLATE.read_text()
    digest = hashlib.sha256(text.encode()).hexdigest()
    if digest not in _decoded:
        from cfnlint.decode import decode_str

        decoded, matches = decode_str(text)
        assert not matches, matches
        _decoded.clear()  # only the current content is worth keeping
        _decoded[digest] = dict(decoded)
    return _decoded[digest]


def template() -> dict[str, Any]:
    """template.yaml as cfn-lint decodes it (intrinsic functions as `Ref`/`Fn::*` mappings)."""
    return copy.deepcopy(_decoded_template())


def template_resources() -> dict[str, Any]:
    resources: dict[str, Any] = copy.deepcopy(_decoded_template()["Resources"])
    return resources


def template_resource(logical_id: str) -> dict[str, Any]:
    """One resource of template.yaml (KeyError when it declares none of that id)."""
    resource: dict[str, Any] = copy.deepcopy(_decoded_template()["Resources"][logical_id])
    return resource
