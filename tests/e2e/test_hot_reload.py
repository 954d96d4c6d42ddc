"""A saved change to a function's code answers from the running local system (issue 14).

The watcher (local/hot_reload.py, `make dev`'s hot reload) watches a COPY of functions/stats, so
the working tree is never touched; the copy's change is a line in plan.py that writes a marker to
stderr at import, which leaves the three stats functions' behaviour as it was for the other tests
sharing this system. StatsPlanFunction is invoked with its events file (a plan: no side effect)
until the marker shows in its log tail. The test puts the copy back as it found it and waits
until the original code answers again. The time from save to answer is printed, not asserted
(speed targets belong to benchmarks, not to timed tests); docs/benchmarks.md quotes it.
"""

from __future__ import annotations

import base64
import json
import shutil
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from local.hot_reload import DeployedFunctions, HotReloader
from local.system import LocalSystem
from local.template import load_event
from local.toolchain import ROOT

FOLDER = "functions/stats"
MODULE = "plan.py"
LOGICAL_ID = "StatsPlanFunction"


def _cold_start_log(system: LocalSystem, function_name: str) -> str:
    """One invocation's log tail (an update drops the warm workers: this is a cold start)."""
    answer = system.client("lambda").invoke(
        FunctionName=function_name,
        LogType="Tail",
        Payload=json.dumps(load_event("stats/plan-yesterday.json")).encode(),
    )
    return base64.b64decode(answer.get("LogResult", "")).decode(errors="replace")


def _seconds_until(check: Callable[[], bool], *, timeout: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if check():
            return time.monotonic() - started
        time.sleep(0.1)
    raise AssertionError(f"not seen within {timeout:.0f}s")


def test_a_saved_function_change_answers_within_five_seconds(
    local_system: LocalSystem, tmp_path: Path
) -> None:
    # Given the watcher on a copy of functions/data, pushing into the running system
    copy = tmp_path / FOLDER
    shutil.copytree(ROOT / FOLDER, copy)
    lines: list[str] = []
    reloader = HotReloader(local_system, root=tmp_path, log=lines.append)
    deployed = DeployedFunctions.of(local_system)
    [function_name] = [
        name for name in reloader.functions_of(FOLDER) if deployed.logical_ids[name] == LOGICAL_ID
    ]
    module = copy / MODULE
    original = module.read_text()
    marker = f"hot-reload-probe-{uuid.uuid4().hex}"
    reloader.start()
    try:
        # When the handler module is saved with a line that logs the marker at import
        module.write_text(f"{original}\nprint({marker!r}, file=__import__('sys').stderr)\n")
        elapsed = _seconds_until(
            lambda: marker in _cold_start_log(local_system, function_name), timeout=60
        )
        print(f"hot reload: save -> new code answering in {elapsed:.1f}s ({lines})")

        # Then the new code answers, and one reload line names the folder's functions (or
        # counts them, past three)
        named = (LOGICAL_ID, f"{len(reloader.functions_of(FOLDER))} functions")
        assert any(
            f"{FOLDER} -> " in line and any(name in line for name in named) for line in lines
        ), lines
    finally:
        # The copy as it was, pushed again: the function runs the deployed code once more
        module.write_text(original)
        reloaded = len(lines) + 1
        _seconds_until(lambda: len(lines) >= reloaded, timeout=60)
        reloader.stop()
    assert "failed" not in lines[-1], lines
    assert marker not in _cold_start_log(local_system, function_name)
