"""Starts MiniStack with two speed fixes to its function workers' files (run by MiniStack's python).

Every cold start of a function in MiniStack (its first invocation, and the first after each
UpdateFunctionCode / UpdateFunctionConfiguration: every hot reload) extracted CourierLayer's
~4,000 files (90 MB) into a new temporary directory, and dropping a worker deleted that
directory before the API call answered. A profile of one cold invocation after a configuration
update (py-spy, 2 cores under load) put ~55% of its 6.5-10 s in those deletes and most of the
rest in the extraction. Here:

- a worker's directory is renamed aside and deleted by a background thread, so neither the
  update call nor the next cold start waits on it;
- a layer archive is extracted once per content (keyed by its SHA-256) into a shared
  directory, and each worker's layer directory is a symbolic link to it: read-only in use, as a
  layer's /opt is on Lambda (the functions never write there).

Neither changes what a function sees or answers; only the emulator's time. Hand-written because
MiniStack has no setting for either; it replaces the two module-level names its worker code
uses (`shutil`, `zipfile`) with wrappers, so it depends on MiniStack's worker code reading them
through those modules (checked at start: a MiniStack without them starts unpatched, and says so).
This file imports nothing of the project: it runs in MiniStack's own environment.
"""

from __future__ import annotations

import hashlib
import importlib
import os
import runpy
import shutil
import sys
import tempfile
import threading
import types
import zipfile
from pathlib import Path
from typing import Any

LAYER_ARCHIVE_PREFIX = "layer_"  # MiniStack writes each layer as <worker dir>/layer_<n>.zip


def _delete_later(path: str, ignore_errors: bool = False, **_: Any) -> None:
    """shutil.rmtree, done by a background thread after an instant rename."""
    aside = f"{path}.deleting-{threading.get_ident()}-{os.urandom(4).hex()}"
    try:
        os.rename(path, aside)
    except FileNotFoundError:
        return
    except OSError:
        shutil.rmtree(path, ignore_errors=ignore_errors)
        return
    threading.Thread(
        target=shutil.rmtree, args=(aside,), kwargs={"ignore_errors": True}, daemon=True
    ).start()


class _LayerCache:
    """One extraction per layer archive content, shared by every worker through a link."""

    def __init__(self, root: Path) -> None:
        self._root = root
        self._lock = threading.Lock()

    def extract(self, archive: zipfile.ZipFile, source: str, target: str) -> None:
        digest = hashlib.sha256(Path(source).read_bytes()).hexdigest()
        shared = self._root / digest
        with self._lock:
            if not shared.is_dir():
                partial = Path(tempfile.mkdtemp(dir=self._root, prefix=f"{digest}.partial-"))
                zipfile.ZipFile.extractall(archive, partial)  # not the override: no recursion
                os.rename(partial, shared)
        os.rmdir(target)  # the empty directory MiniStack made for the extraction
        os.symlink(shared, target, target_is_directory=True)


class _ZipFileSharingLayers(zipfile.ZipFile):
    cache: _LayerCache

    def extractall(self, path: Any = None, members: Any = None, pwd: Any = None) -> None:
        source = self.filename or ""
        name = os.path.basename(source)
        if (
            members is None
            and path is not None
            and name.startswith(LAYER_ARCHIVE_PREFIX)
            and name.endswith(".zip")
            and os.path.isdir(path)
            and not os.listdir(path)
        ):
            self.cache.extract(self, source, os.fspath(path))
            return
        super().extractall(path, members, pwd)


def _patch(runtime: types.ModuleType, cache_root: Path) -> bool:
    if getattr(runtime, "shutil", None) is not shutil or getattr(runtime, "zipfile", None) is not (
        zipfile
    ):
        return False
    cache_root.mkdir(parents=True, exist_ok=True)
    _ZipFileSharingLayers.cache = _LayerCache(cache_root)
    runtime.shutil = types.SimpleNamespace(**{**vars(shutil), "rmtree": _delete_later})  # type: ignore[attr-defined]
    runtime.zipfile = types.SimpleNamespace(**{**vars(zipfile), "ZipFile": _ZipFileSharingLayers})  # type: ignore[attr-defined]
    return True


def main() -> None:
    runtime = importlib.import_module("ministack.core.lambda_runtime")
    cache_root = Path(tempfile.gettempdir()) / "ministack-layer-cache"
    if not _patch(runtime, cache_root):
        print("ministack_boot: MiniStack's worker code changed; started without the speed fixes")
    sys.argv = ["ministack", *sys.argv[1:]]
    runpy.run_module("ministack", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
