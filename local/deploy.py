"""Build and deploy for the local system: sam build for the host Python, sam deploy into MiniStack.

The `local` environment of samconfig.toml plus this run's addresses are the whole difference from
a cloud deploy; each step's output goes to a log in the run's directory, whose tail a failure
quotes.
"""

from __future__ import annotations

import hashlib
import os
import shlex
import subprocess
import tomllib
from contextlib import suppress
from pathlib import Path
from typing import Any

from local.system import REGION, STACK_NAME, LocalSystem
from local.toolchain import ROOT, TOOLS, Toolchain

BUILD_DIR = ROOT / ".aws-sam" / "local" / "build"
CACHE_DIR = ROOT / ".aws-sam" / "local" / "cache"
# The hash of what the last successful build was built from (see build_inputs_digest).
BUILD_STAMP = BUILD_DIR / ".courier-build-inputs.sha256"
# What `sam build` reads: the template, the functions' folders, the layer (sources, pinned
# requirements, Makefile). A change anywhere here means a new build.
BUILD_INPUTS = ("template.yaml", "functions", "layers/courier")


class StartupFailed(RuntimeError):
    """A step of the start-up failed; the message names it and where its log is."""


def failure(headline: str, log: Path) -> str:
    """`headline` and the last lines of the step's log."""
    tail = ""
    with suppress(OSError):
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-25:])
    return f"{headline}; last lines of {log.name}:\n{tail}"


def run_logged(argv: list[str], *, env: dict[str, str], log: Path, what: str) -> None:
    """Run one step with its output in `log`; StartupFailed with the log's tail if it fails."""
    with log.open("wb") as out:
        code = subprocess.run(
            argv, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=ROOT, check=False
        ).returncode
    if code != 0:
        raise StartupFailed(failure(f"{what} failed (exit {code})", log))


def local_parameter_overrides() -> dict[str, str]:
    """The `local` environment's parameter_overrides from samconfig.toml, as a dict."""
    config = tomllib.loads((ROOT / "samconfig.toml").read_text())
    text = config["local"]["deploy"]["parameters"]["parameter_overrides"]
    pairs = (item.split("=", 1) for item in shlex.split(text))
    return {key: value for key, value in pairs}


def deploy_parameter_overrides(system: LocalSystem) -> dict[str, str]:
    """The `local` overrides plus this run's addresses: Redis, MariaDB, the emulator's APIs."""
    overrides = local_parameter_overrides()
    overrides.update(
        ExternalRedisUrl=system.redis_url,
        DatabaseAccess="external",
        ExternalDatabaseUrl=system.database_url,
        ExternalDatabaseReaderUrl=system.database_reader_url,
        ChatConnectionsEndpoint=f"{system.endpoint}/_aws/execute-api/{{apiId}}/{{stage}}",
        SandboxOutboxPath=str(system.outbox),
        EmulatorEndpointUrl=system.endpoint,
    )
    return overrides


def build_inputs_digest(target: tuple[str, str], root: Path = ROOT) -> str:
    """sha256 over the build's inputs (paths and contents) and the layer's target Python/CPU."""
    digest = hashlib.sha256(repr(target).encode())
    for name in BUILD_INPUTS:
        top = root / name
        files = [top] if top.is_file() else sorted(p for p in top.rglob("*") if p.is_file())
        for path in files:
            relative = path.relative_to(root)
            if {"__pycache__", ".build"} & set(relative.parts) or path.suffix == ".pyc":
                continue
            digest.update(f"\0{relative.as_posix()}\0".encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def build(tools: Toolchain, workdir: Path) -> bool:
    """sam build with the layer for MiniStack's Python and the host CPU, unless the last build
    was made from the same inputs. True when it built."""
    python_version, platforms = tools.layer_target()
    inputs = build_inputs_digest((python_version, platforms))
    with suppress(OSError):
        if (BUILD_DIR / "template.yaml").is_file() and BUILD_STAMP.read_text() == inputs:
            return False
    BUILD_STAMP.unlink(missing_ok=True)
    env = dict(
        os.environ,
        SAM_CLI_TELEMETRY="0",
        AWS_DEFAULT_REGION=REGION,
        PYTHON_VERSION=python_version,
        PLATFORM=platforms,
        PIP=f"{TOOLS / 'sam' / 'bin' / 'python'} -m pip",
    )
    # A build directory and cache of its own: the CI build targets arm64/python3.13.
    run_logged(
        [
            str(tools.sam),
            "build",
            "--template-file",
            str(ROOT / "template.yaml"),
            "--build-dir",
            str(BUILD_DIR),
            "--cache-dir",
            str(CACHE_DIR),
            "--cached",
            "--parallel",
        ],
        env=env,
        log=workdir / "build.log",
        what="sam build",
    )
    BUILD_STAMP.write_text(inputs)
    return True


def built_template_as_json(built: Path = BUILD_DIR / "template.yaml") -> Path:
    """The built template as JSON beside it (made once per build), for `sam deploy`.

    The SAM CLI parses its template several times per deploy and tries JSON first; a YAML
    template goes through PyYAML's pure-Python loader: ~4.5 s of a 16 s local deploy (py-spy).
    The short intrinsic tags become their long form as the SAM CLI's own loader makes them
    (`!Ref x` -> {"Ref": x}, `!GetAtt a.b` -> {"Fn::GetAtt": [a, b]}, `!Sub s` ->
    {"Fn::Sub": s}); timestamps stay text, as there. Beside the YAML, so relative CodeUri and
    ContentUri paths resolve the same.
    """
    import json

    import yaml

    target = built.with_suffix(".json")
    if target.is_file() and target.stat().st_mtime_ns >= built.stat().st_mtime_ns:
        return target

    def intrinsic(loader: Any, suffix: str, node: Any) -> dict[str, Any]:
        tag = node.tag[1:]
        name = tag if tag in ("Ref", "Condition") else f"Fn::{tag}"
        value: Any
        if tag == "GetAtt" and isinstance(node.value, str):
            value = node.value.split(".", 1)
        elif isinstance(node, yaml.ScalarNode):
            value = loader.construct_scalar(node)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)
        return {name: value}

    loader: Any = type("CfnLoader", (yaml.CSafeLoader,), {})
    loader.add_multi_constructor("!", intrinsic)
    loader.add_constructor(
        "tag:yaml.org,2002:timestamp", lambda loader, node: loader.construct_scalar(node)
    )
    document = yaml.load(built.read_text(), Loader=loader)  # noqa: S506 (safe loader + tags)
    partial = target.with_suffix(".json.partial")
    partial.write_text(json.dumps(document))
    partial.replace(target)
    return target


def deploy(tools: Toolchain, system: LocalSystem) -> None:
    """sam deploy --config-env local of the built template, with this run's addresses."""
    overrides = deploy_parameter_overrides(system)
    run_logged(
        [
            str(tools.sam),
            "deploy",
            "--config-file",
            str(ROOT / "samconfig.toml"),
            "--config-env",
            "local",
            "--template-file",
            str(built_template_as_json()),
            "--no-progressbar",
            "--parameter-overrides",
            " ".join(f"{k}={v}" for k, v in overrides.items()),
        ],
        # The emulator applies a change set in seconds: poll every half second, not every 5.
        env={**system.aws_env(), "SAM_CLI_POLL_DELAY": "0.5"},
        log=Path(system.workdir) / "deploy.log",
        what="sam deploy",
    )


def stack_outputs(system: LocalSystem) -> dict[str, str]:
    stacks = system.client("cloudformation").describe_stacks(StackName=STACK_NAME)
    return {o["OutputKey"]: o["OutputValue"] for o in stacks["Stacks"][0]["Outputs"]}


def upload_web(tools: Toolchain, system: LocalSystem) -> None:
    """web/ into the stack's bucket, its config.json pointing at the emulator's APIs."""
    run_logged(
        [
            str(tools.app_python),
            str(ROOT / "scripts" / "deploy_web.py"),
            "--stack",
            STACK_NAME,
            "--region",
            REGION,
            "--web-socket-url",
            system.websocket_url,
            "--api-base",
            system.api_base,
        ],
        env=system.aws_env(),
        log=Path(system.workdir) / "web.log",
        what="web upload",
    )
