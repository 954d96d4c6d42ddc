"""MiniStack's worker-file speed fixes: each layer extracted once and shared; deletes deferred."""

from __future__ import annotations

import time
import types
import zipfile
from pathlib import Path

from local import ministack_boot


def _archive(path: Path, files: dict[str, str]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return path


def _runtime() -> types.ModuleType:
    """A stand-in for ministack.core.lambda_runtime: it reads both modules by name."""
    runtime = types.ModuleType("lambda_runtime")
    runtime.shutil = ministack_boot.shutil  # type: ignore[attr-defined]
    runtime.zipfile = zipfile  # type: ignore[attr-defined]
    return runtime


def _spawn_like_ministack(runtime: types.ModuleType, worker: Path, layer: Path) -> Path:
    """What MiniStack's Worker._spawn does with a layer: copy it in, make a dir, extract."""
    worker.mkdir()
    copy = worker / "layer_0.zip"
    copy.write_bytes(layer.read_bytes())
    target = worker / "layer_0"
    target.mkdir()
    with runtime.zipfile.ZipFile(copy) as archive:
        archive.extractall(target)
    return target


def test_two_workers_share_one_extraction_of_the_same_layer(tmp_path: Path) -> None:
    # Given the patched worker code and a layer archive
    runtime = _runtime()
    assert ministack_boot._patch(runtime, tmp_path / "cache")
    layer = _archive(tmp_path / "src.zip", {"python/courier/__init__.py": "VERSION = 1\n"})

    # When two workers are spawned with it
    first = _spawn_like_ministack(runtime, tmp_path / "worker-a", layer)
    second = _spawn_like_ministack(runtime, tmp_path / "worker-b", layer)

    # Then both see the layer's files, through links to one extracted copy
    assert first.is_symlink()
    assert second.is_symlink()
    assert first.resolve() == second.resolve()
    assert (second / "python/courier/__init__.py").read_text() == "VERSION = 1\n"
    assert len(list((tmp_path / "cache").iterdir())) == 1


def test_a_changed_layer_gets_its_own_copy_and_code_archives_extract_as_before(
    tmp_path: Path,
) -> None:
    # Given the patched worker code and a layer that changed between two spawns
    runtime = _runtime()
    ministack_boot._patch(runtime, tmp_path / "cache")
    old = _archive(tmp_path / "old.zip", {"python/m.py": "A = 1\n"})
    new = _archive(tmp_path / "new.zip", {"python/m.py": "A = 2\n"})
    code = _archive(tmp_path / "code.zip", {"handler.py": "def handler(e, c): ...\n"})

    # When workers are spawned with each, and a function's code archive is extracted
    before = _spawn_like_ministack(runtime, tmp_path / "worker-a", old)
    after = _spawn_like_ministack(runtime, tmp_path / "worker-b", new)
    code_dir = tmp_path / "worker-b" / "code"
    code_dir.mkdir()
    with runtime.zipfile.ZipFile(code) as archive:
        archive.extractall(code_dir)

    # Then each worker reads its own layer's content, and the code is a plain directory
    assert (before / "python/m.py").read_text() == "A = 1\n"
    assert (after / "python/m.py").read_text() == "A = 2\n"
    assert not code_dir.is_symlink()
    assert (code_dir / "handler.py").is_file()


def test_a_dropped_worker_is_gone_at_once_and_the_shared_layer_stays(tmp_path: Path) -> None:
    # Given a spawned worker with a shared layer
    runtime = _runtime()
    ministack_boot._patch(runtime, tmp_path / "cache")
    layer = _archive(tmp_path / "src.zip", {"python/x.py": "X = 1\n"})
    target = _spawn_like_ministack(runtime, tmp_path / "worker-a", layer)
    shared = target.resolve()

    # When MiniStack deletes the worker's directory
    runtime.shutil.rmtree(str(tmp_path / "worker-a"), ignore_errors=True)

    # Then the directory is gone when the call returns, the aside copy is deleted soon after,
    # and the shared extraction (behind the link) is untouched
    assert not (tmp_path / "worker-a").exists()
    deadline = time.monotonic() + 10
    while any(p.name.startswith("worker-a") for p in tmp_path.iterdir()):
        assert time.monotonic() < deadline, "the renamed directory was never deleted"
        time.sleep(0.01)
    assert (shared / "python/x.py").read_text() == "X = 1\n"


def test_worker_code_that_no_longer_reads_the_modules_is_left_alone(tmp_path: Path) -> None:
    # Given worker code that imports its helpers some other way
    runtime = types.ModuleType("lambda_runtime")

    # When the fixes are applied, Then they say they were not (and nothing is replaced)
    assert not ministack_boot._patch(runtime, tmp_path / "cache")
    assert not hasattr(runtime, "zipfile")
