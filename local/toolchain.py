"""The tools the local runtime runs: the SAM CLI, MiniStack and the app's virtualenv in .tools."""

from __future__ import annotations

import platform
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TOOLS = ROOT / ".tools"


class MissingTool(RuntimeError):
    """A tool the local runtime needs is not installed; the message says how to get it."""


@dataclass(frozen=True)
class Toolchain:
    sam: Path
    ministack_python: Path
    app_python: Path

    @classmethod
    def find(cls) -> Toolchain:
        sam = TOOLS / "sam" / "bin" / "sam"
        ministack_python = TOOLS / "ministack" / "bin" / "python"
        app_python = ROOT / ".venv" / "bin" / "python"
        missing = []
        if not sam.exists():
            missing.append(f"the SAM CLI ({sam})")
        if not ministack_python.exists():
            missing.append(f"MiniStack ({TOOLS / 'ministack'})")
        if not app_python.exists():
            missing.append(f"the app's virtualenv ({app_python.parent.parent})")
        if missing:
            raise MissingTool(
                "missing: " + ", ".join(missing) + ". Run `make dev` (it installs them) or "
                "`make tools`; both need only Python 3.11+ and PyPI."
            )
        if shutil.which("redis-server") is None:
            raise MissingTool(
                "missing: redis-server. Install it with `sudo apt-get install redis-server` "
                "(Debian/Ubuntu) or `brew install redis` (macOS), then run `make dev` again."
            )
        return cls(sam=sam, ministack_python=ministack_python, app_python=app_python)

    def layer_target(self) -> tuple[str, str]:
        """PYTHON_VERSION and PLATFORM for the layer: MiniStack runs functions on its own Python."""
        version = subprocess.run(
            [
                str(self.ministack_python),
                "-c",
                "import sys; print(f'{sys.version_info[0]}.{sys.version_info[1]}')",
            ],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
        machine = platform.machine().lower()
        arch = {"amd64": "x86_64", "arm64": "aarch64"}.get(machine, machine)
        return version, f"manylinux2014_{arch} manylinux_2_28_{arch}"
