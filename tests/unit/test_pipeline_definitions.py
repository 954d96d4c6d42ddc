"""The Jenkinsfile and GitHub Actions workflows: thin, pinned, least-privileged make callers."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
PINNED_USES = re.compile(r"^\s*-?\s*uses:\s*([\w.-]+/[\w./-]+)@([0-9a-f]{40}) # v\d+\.\d+\.\d+\s*$")
MAKE_CALL = re.compile(r"\bmake\s+([a-z][\w-]*)((?:\s+[A-Z_]+=\S+)*)")


def make_targets() -> set[str]:
    """Explicit targets of the Makefile (rule lines, not variable assignments)."""
    text = (ROOT / "Makefile").read_text()
    return set(re.findall(r"^([a-z][\w-]*)\s*:(?!=)", text, flags=re.MULTILINE))


def make_calls(command: str) -> list[str]:
    return [m.group(1) for m in MAKE_CALL.finditer(command)]


def jenkins_stages() -> list[tuple[str, str]]:
    """(stage name, the text up to the next stage) in file order."""
    text = (ROOT / "Jenkinsfile").read_text()
    text = "\n".join(line for line in text.splitlines() if not line.strip().startswith("//"))
    marks = list(re.finditer(r"stage\('([^']+)'\)", text))
    ends = [m.start() for m in marks[1:]] + [len(text)]
    return [(m.group(1), text[m.end() : end]) for m, end in zip(marks, ends, strict=True)]


def jenkins_sh(body: str) -> list[str]:
    return re.findall(r"\bsh\s+'([^']*)'", body)


def load_workflow(path: Path) -> dict[str, Any]:
    workflow: dict[str, Any] = yaml.safe_load(path.read_text())
    if True in workflow:  # YAML 1.1 reads the key `on` as a boolean
        workflow["on"] = workflow.pop(True)
    return workflow


def steps(workflow: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [(job_id, step) for job_id, job in workflow["jobs"].items() for step in job["steps"]]


def uses_of(job: dict[str, Any], action: str) -> list[dict[str, Any]]:
    return [s for s in job["steps"] if s.get("uses", "").split("@")[0] == action]


# ---- Makefile ----------------------------------------------------------------------------------


def test_the_pipeline_targets_exist_and_validate_lints_the_pipeline() -> None:
    # Given the Makefile
    targets = make_targets()
    # Then the pipeline's entry points exist
    assert {"ci", "package", "deploy", "smoke", "test", "validate"} <= targets
    # And validate runs the workflow linters and the bootstrap template checks
    rule = re.search(r"^validate:((?:[^\n\\]|\\\n)*)", (ROOT / "Makefile").read_text(), re.M)
    assert rule is not None
    prerequisites = set(rule.group(1).replace("\\", " ").split())
    assert {"workflow-lint", "bootstrap-lint", "cfn-lint", "checkov"} <= prerequisites


# ---- Jenkinsfile -------------------------------------------------------------------------------


def test_every_jenkins_sh_step_calls_an_existing_make_target() -> None:
    # Given the Jenkinsfile's shell steps
    commands = [c for _, body in jenkins_stages() for c in jenkins_sh(body)]
    # Then each is one make call of a target the Makefile has
    assert commands
    for command in commands:
        assert command.startswith("make "), command
        assert make_calls(command)[0] in make_targets(), command


def test_jenkins_builds_once_deploys_dev_then_prod_after_approval() -> None:
    # Given the stages in order with what each runs
    stages = jenkins_stages()
    order = [(name, cmd) for name, body in stages for cmd in jenkins_sh(body) or [""]]
    commands = [cmd for _, cmd in order if cmd]
    # Then CI, one package, dev deploy and smoke, then prod deploy (approved) and smoke
    assert commands == [
        "make ci",
        "make package",
        "make deploy ENV=dev",
        "make smoke ENV=dev",
        "make deploy ENV=prod CHANGESET_APPROVED=yes",
        "make smoke ENV=prod",
    ]
    names = [name for name, _ in stages]
    assert names.index("Smoke dev") < names.index("Approve prod") < names.index("Deploy prod")
    approve = dict(stages)["Approve prod"]
    assert re.search(r"\binput\s+message:", approve)
    # And prod deploys the stash the package stage made (the same artifact, not a rebuild)
    body = dict(stages)
    stash = re.search(r"stash name: '([^']+)'", body["Package"])
    assert stash is not None
    assert f"unstash '{stash.group(1)}'" in body["Checkout prod"]


# ---- GitHub Actions ----------------------------------------------------------------------------


def test_there_are_a_pull_request_and_a_main_workflow() -> None:
    triggers = {path.name: load_workflow(path)["on"] for path in WORKFLOWS}
    assert triggers["ci.yml"] == {"pull_request": {"branches": ["main"]}}
    assert triggers["deploy.yml"] == {"push": {"branches": ["main"]}}


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_every_uses_is_pinned_to_a_full_commit_sha_with_its_version(path: Path) -> None:
    # Given every `uses:` line of the workflow
    lines = [line for line in path.read_text().splitlines() if re.match(r"^\s*-?\s*uses:", line)]
    # Then each names a 40-hex commit and the release tag it is
    assert lines
    for line in lines:
        assert PINNED_USES.match(line), line


def test_one_action_is_pinned_to_one_commit_everywhere() -> None:
    pins: dict[str, set[str]] = {}
    for path in WORKFLOWS:
        for match in re.finditer(r"uses:\s*(\S+)@(\S+)", path.read_text()):
            pins.setdefault(match.group(1), set()).add(match.group(2))
    assert pins
    assert {action: shas for action, shas in pins.items() if len(shas) > 1} == {}


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_run_steps_call_existing_make_targets(path: Path) -> None:
    # Given the workflow's run steps
    runs = [step["run"] for _, step in steps(load_workflow(path)) if "run" in step]
    # Then each is one make call of a target the Makefile has
    assert runs
    for run in runs:
        assert run.strip().startswith("make "), run
        assert make_calls(run)[0] in make_targets(), run


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_least_permissions_credentials_not_persisted_and_a_concurrency_group(path: Path) -> None:
    workflow = load_workflow(path)
    # Then nothing is granted at the top, and jobs get read access plus OIDC only where used
    assert workflow["permissions"] == {}
    assert workflow["concurrency"]["group"]
    for job_id, job in workflow["jobs"].items():
        wants_aws = bool(uses_of(job, "aws-actions/configure-aws-credentials"))
        expected = {"contents": "read", **({"id-token": "write"} if wants_aws else {})}
        assert job["permissions"] == expected, job_id
        # And every checkout leaves no token behind in .git/config
        for checkout in uses_of(job, "actions/checkout"):
            assert checkout["with"]["persist-credentials"] is False, job_id


def test_main_builds_once_and_deploys_that_artifact_to_dev_then_protected_prod() -> None:
    jobs = load_workflow(ROOT / ".github" / "workflows" / "deploy.yml")["jobs"]
    runs = {
        job_id: [step["run"] for step in job["steps"] if "run" in step]
        for job_id, job in jobs.items()
    }
    # Then exactly one job packages, after CI
    packaging = [job_id for job_id, cmds in runs.items() if any("make package" in c for c in cmds)]
    assert packaging == ["package"]
    assert jobs["package"]["needs"] == "ci"
    uploaded = uses_of(jobs["package"], "actions/upload-artifact")[0]["with"]
    assert uploaded["path"] == ".aws-sam/packaged.yaml"
    # And dev, then prod (environment-protected), deploy and smoke the downloaded artifact
    assert jobs["deploy-dev"]["needs"] == "package"
    assert jobs["deploy-prod"]["needs"] == "deploy-dev"
    for job_id, env in (("deploy-dev", "dev"), ("deploy-prod", "prod")):
        job = jobs[job_id]
        assert job["environment"] == env
        downloaded = uses_of(job, "actions/download-artifact")[0]["with"]
        assert downloaded == {"name": uploaded["name"], "path": ".aws-sam"}
        deploy, smoke = runs[job_id]
        assert make_calls(deploy) == ["deploy"]
        assert f"ENV={env}" in deploy
        assert smoke == f"make smoke ENV={env}"
    assert "CHANGESET_APPROVED=yes" in runs["deploy-prod"][0]
    assert "CHANGESET_APPROVED" not in runs["deploy-dev"][0]
