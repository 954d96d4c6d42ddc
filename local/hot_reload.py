"""Hot reload for `make dev`: a saved change to a function folder or the courier package reaches
the running functions in about a second, without a restart.

A function folder (functions/<name>/, whose build copies its top-level *.py files) is zipped in
memory and sent with UpdateFunctionCode to every function whose CodeUri it is. The courier
package (layers/courier/src/courier) goes out as a small overlay layer holding only that package,
attached after CourierLayer with UpdateFunctionConfiguration: later layers win on Lambda (and on
MiniStack, which puts each later layer in front on sys.path), so the overlay's package shadows the
built one whole, files deleted since the build included. Republishing CourierLayer itself would
send its 70+ MB of third-party wheels on every save. MiniStack extracts code and layers when it
spawns a worker and both calls drop the function's warm workers, so the next invocation is a cold
start of the new code. Changed third-party dependencies (pyproject.toml, uv.lock, the layer's
requirements) and template changes need a rebuild: the watcher says so and changes nothing.

Hand-written because `sam sync --watch` rebuilds through `sam build` (the layer's pip install)
and drives CloudFormation's sync path; a poll of ~200 files' mtimes every half second costs
nothing measurable and needs no dependency (watchfiles would add a compiled wheel for the same).
"""

from __future__ import annotations

import io
import threading
import time
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from local.system import STACK_NAME, LocalSystem
from local.toolchain import ROOT

Log = Callable[[str], None]
Snapshot = dict[Path, tuple[int, int]]

LAYER_SOURCE = Path("layers") / "courier" / "src"
OVERLAY_LAYER_NAME = f"{STACK_NAME}-courier-hot-reload"
# A change to these needs `sam build` (wheels, template): reported, never applied.
REBUILD_INPUTS = ("pyproject.toml", "uv.lock", "layers/courier/requirements.txt", "template.yaml")
POLL_SECONDS = 0.5


def function_files(folder: Path) -> list[Path]:
    """What functions/<name>/Makefile copies into the artifact: the folder's top-level *.py."""
    return sorted(path for path in folder.glob("*.py") if path.is_file())


def layer_package_files(source: Path) -> list[Path]:
    """The courier package as the layer Makefile copies it (no caches, no tests directories)."""
    return sorted(
        path
        for path in (source / "courier").rglob("*")
        if path.is_file()
        and "__pycache__" not in path.parts
        and "tests" not in path.relative_to(source).parts
        and path.suffix != ".pyc"
    )


def zip_files(files: Iterable[tuple[Path, str]]) -> bytes:
    """An in-memory zip of (file, name in the archive) pairs."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        for path, name in files:
            archive.write(path, name)
    return buffer.getvalue()


def function_zip(folder: Path) -> bytes:
    return zip_files((path, path.name) for path in function_files(folder))


def overlay_layer_zip(source: Path) -> bytes:
    """python/courier/... from the sources: Lambda puts a layer's python/ on sys.path."""
    return zip_files(
        (path, f"python/{path.relative_to(source).as_posix()}")
        for path in layer_package_files(source)
    )


def snapshot(files: Iterable[Path]) -> Snapshot:
    """Each file's (mtime_ns, size): an editor's save changes at least one of them."""
    state: Snapshot = {}
    for path in files:
        try:
            stat = path.stat()
        except FileNotFoundError:
            continue
        state[path] = (stat.st_mtime_ns, stat.st_size)
    return state


@dataclass
class DeployedFunctions:
    """The stack's functions as the reloader needs them: by CodeUri folder, and their layers."""

    by_folder: dict[str, list[str]]  # "functions/api" -> physical function names
    layered: list[str]  # functions that carry CourierLayer
    courier_layer_arn: str
    logical_ids: dict[str, str] = field(default_factory=dict)  # physical -> logical

    @classmethod
    def of(cls, system: LocalSystem) -> DeployedFunctions:
        cloudformation = system.client("cloudformation")
        physical: dict[str, str] = {}
        layer_arn = ""
        for page in cloudformation.get_paginator("list_stack_resources").paginate(
            StackName=STACK_NAME
        ):
            for resource in page["StackResourceSummaries"]:
                if resource["ResourceType"] == "AWS::Lambda::Function":
                    physical[resource["LogicalResourceId"]] = resource["PhysicalResourceId"]
                elif resource["ResourceType"] == "AWS::Lambda::LayerVersion" and resource[
                    "LogicalResourceId"
                ].startswith("CourierLayer"):
                    layer_arn = resource["PhysicalResourceId"]
        code_uris = template_code_uris()
        by_folder: dict[str, list[str]] = {}
        for logical, name in physical.items():
            code_uri = code_uris.get(logical)
            if code_uri:
                by_folder.setdefault(code_uri.rstrip("/"), []).append(name)
        lambda_client = system.client("lambda")
        layered = [
            name
            for name in physical.values()
            if any(
                _same_layer(layer["Arn"], layer_arn)
                for layer in lambda_client.get_function_configuration(FunctionName=name).get(
                    "Layers", []
                )
            )
        ]
        return cls(
            by_folder=by_folder,
            layered=layered,
            courier_layer_arn=layer_arn,
            logical_ids={name: logical for logical, name in physical.items()},
        )


def template_code_uris(template: Path = ROOT / "template.yaml") -> dict[str, str]:
    """Each function's CodeUri in template.yaml, by logical id (inline and image ones left out).

    Read with PyYAML, every CloudFormation tag as null: a CodeUri is a plain string, and this
    takes 0.2 s where cfn-lint's decoder (local/template.py) takes 6.
    """
    import yaml

    tags_as_null: Any = type("TagsAsNull", (yaml.CSafeLoader,), {})
    tags_as_null.add_multi_constructor("!", lambda loader, suffix, node: None)
    resources = yaml.load(template.read_text(), Loader=tags_as_null)["Resources"]  # noqa: S506
    return {
        name: resource["Properties"]["CodeUri"]
        for name, resource in resources.items()
        if resource.get("Type") == "AWS::Serverless::Function"
        and isinstance(resource.get("Properties", {}).get("CodeUri"), str)
    }


def _same_layer(arn: str, other: str) -> bool:
    """Same layer, any version (arn:aws:lambda:region:account:layer:name:version)."""
    return arn.rsplit(":", 1)[0] == other.rsplit(":", 1)[0]


def _retry_conflicts(call: Callable[[], Any], *, attempts: int = 20) -> Any:
    """An update while the previous one is still in progress answers ResourceConflict."""
    for attempt in range(attempts):
        try:
            return call()
        except Exception as error:  # botocore's ClientError, without importing botocore here
            code = getattr(error, "response", {}).get("Error", {}).get("Code")
            if code != "ResourceConflictException" or attempt == attempts - 1:
                raise
            time.sleep(0.1)
    raise AssertionError("unreachable")


class HotReloader:
    """Watches the sources under `root` and pushes each saved change into the running stack."""

    def __init__(
        self,
        system: LocalSystem,
        *,
        root: Path = ROOT,
        log: Log = print,
        deployed: DeployedFunctions | None = None,
    ) -> None:
        self._system = system
        self._root = root
        self._log = log
        self._deployed = deployed or DeployedFunctions.of(system)
        self._lambda = system.client("lambda")
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.reloads = 0

    def functions_of(self, code_uri: str) -> list[str]:
        """The deployed functions (physical names) built from the folder `code_uri`."""
        return list(self._deployed.by_folder.get(code_uri, []))

    # ---- what is watched
    def _function_folders(self) -> dict[str, Path]:
        return {
            code_uri: self._root / code_uri
            for code_uri in self._deployed.by_folder
            if (self._root / code_uri).is_dir()
        }

    def _watched(self) -> dict[str, Snapshot]:
        """One snapshot per unit of reload: each function folder, the layer, the rebuild inputs."""
        units = {
            code_uri: snapshot(function_files(folder))
            for code_uri, folder in self._function_folders().items()
        }
        layer = self._root / LAYER_SOURCE
        if layer.is_dir():
            units[str(LAYER_SOURCE)] = snapshot(layer_package_files(layer))
        units["rebuild"] = snapshot(self._root / name for name in REBUILD_INPUTS)
        return units

    # ---- the updates
    def reload_folder(self, code_uri: str) -> None:
        """UpdateFunctionCode of every function built from `code_uri` with its current files."""
        started = time.monotonic()
        payload = function_zip(self._root / code_uri)
        names = self._deployed.by_folder[code_uri]
        for name in names:
            _retry_conflicts(
                partial(self._lambda.update_function_code, FunctionName=name, ZipFile=payload)
            )
        self._done(code_uri, names, started)

    def reload_layer(self) -> None:
        """A new overlay layer version with the courier package, attached to every function."""
        started = time.monotonic()
        published = self._lambda.publish_layer_version(
            LayerName=OVERLAY_LAYER_NAME,
            Description="courier package from the working tree (make dev hot reload)",
            Content={"ZipFile": overlay_layer_zip(self._root / LAYER_SOURCE)},
        )
        overlay_arn = published["LayerVersionArn"]
        for name in self._deployed.layered:
            current = self._lambda.get_function_configuration(FunctionName=name)
            layers = [
                layer["Arn"]
                for layer in current.get("Layers", [])
                if not _same_layer(layer["Arn"], overlay_arn)
            ]
            _retry_conflicts(
                partial(
                    self._lambda.update_function_configuration,
                    FunctionName=name,
                    Layers=[*layers, overlay_arn],
                )
            )
        self._done(str(LAYER_SOURCE), self._deployed.layered, started)

    def _done(self, what: str, names: list[str], started: float) -> None:
        self.reloads += 1
        logical = sorted(self._deployed.logical_ids.get(name, name) for name in names)
        shown = ", ".join(logical) if len(logical) <= 3 else f"{len(logical)} functions"
        self._log(f"hot reload: {what} -> {shown} in {time.monotonic() - started:.1f}s")

    # ---- the loop
    def changes(self, baseline: dict[str, Snapshot] | None = None) -> Iterator[list[str]]:
        """Yields the units that changed since the previous poll (the first: since `baseline`),
        until stop()."""
        previous = self._watched() if baseline is None else baseline
        while not self._stop.wait(POLL_SECONDS):
            current = self._watched()
            changed = [unit for unit, state in current.items() if state != previous.get(unit)]
            previous = current
            if changed:
                yield changed

    def apply(self, changed: list[str]) -> None:
        for unit in changed:
            try:
                if unit == "rebuild":
                    self._log(
                        "hot reload: dependencies or template.yaml changed; "
                        "restart make dev to rebuild"
                    )
                elif unit == str(LAYER_SOURCE):
                    self.reload_layer()
                else:
                    self.reload_folder(unit)
            except Exception as error:  # a failed reload must not end the watcher
                self._log(f"hot reload: {unit} failed: {error}")

    def run(self, baseline: dict[str, Snapshot] | None = None) -> None:
        for changed in self.changes(baseline):
            self.apply(changed)

    def start(self) -> HotReloader:
        # The baseline is taken before start() returns: a save made right after it is a change,
        # not part of the baseline (the thread would otherwise race the caller's first save).
        baseline = self._watched()
        self._thread = threading.Thread(
            target=self.run, args=(baseline,), name="hot-reload", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
