"""The local runtime's configuration: the `local` overrides, the addresses it prints."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from local.database import without_password
from local.deploy import deploy_parameter_overrides, local_parameter_overrides
from local.runtime import main, summary
from local.system import LocalSystem
from tests.harness import template


def _template_parameters() -> dict[str, dict[str, object]]:
    parameters: dict[str, dict[str, object]] = template()["Parameters"]
    return parameters


def _system() -> LocalSystem:
    return LocalSystem(
        endpoint="http://127.0.0.1:4566",
        redis_url="redis://127.0.0.1:6390/0",
        outputs={
            "ChatApiId": "abc123",
            "ChatStageName": "live",
            "HttpApiId": "def456",
            "WebBucketName": "courier-local-webbucket-1",
            "SmsTransactionalQueueUrl": "http://127.0.0.1:4566/000000000000/tx",
            "SmsBulkQueueUrl": "http://127.0.0.1:4566/000000000000/bulk",
            "SmsTransactionalDeadLetterQueueUrl": "http://127.0.0.1:4566/000000000000/tx-dlq",
            "SmsBulkDeadLetterQueueUrl": "http://127.0.0.1:4566/000000000000/bulk-dlq",
        },
        workdir="/tmp/courier-local-x",
        tokens={"alice": "token-a", "bob": "token-b"},
        startup_seconds=41.5,
        database_url="mysql://courier_app:writer-secret@127.0.0.1:41234/courier",
        database_reader_url="mysql://courier_reader:reader-secret@127.0.0.1:41234/courier",
    )


def test_every_local_override_is_a_template_parameter_with_an_allowed_value() -> None:
    # Given the `local` environment of samconfig.toml and the template's parameters
    overrides = local_parameter_overrides()
    parameters = _template_parameters()
    # Then each override names a real parameter and, where values are listed, an allowed one
    for name, value in overrides.items():
        assert name in parameters, f"{name} is not a template parameter"
        allowed = parameters[name].get("AllowedValues")
        if allowed is not None:
            assert value in [str(v) for v in allowed], f"{name}={value} is not one of {allowed}"


def test_the_deploy_points_the_functions_at_this_runs_redis_and_mariadb() -> None:
    # Given a started system's addresses and the template's parameters
    system = _system()
    parameters = _template_parameters()
    # When the runtime builds its deploy's parameter overrides
    overrides = deploy_parameter_overrides(system)
    # Then the functions reach the private MariaDB by URL (writer and reader) and its Redis
    assert overrides["DatabaseAccess"] == "external"
    assert overrides["ExternalDatabaseUrl"] == system.database_url
    assert overrides["ExternalDatabaseReaderUrl"] == system.database_reader_url
    assert overrides["ExternalRedisUrl"] == system.redis_url
    # And each override is a template parameter with an allowed value
    for name, value in overrides.items():
        assert name in parameters, f"{name} is not a template parameter"
        allowed = parameters[name].get("AllowedValues")
        if allowed is not None:
            assert value in [str(v) for v in allowed], f"{name}={value} is not one of {allowed}"


def test_the_local_environment_answers_each_emulator_difference() -> None:
    overrides = local_parameter_overrides()
    assert overrides["CreateApiDeployment"] == "false"  # no AWS::ApiGatewayV2::Deployment
    assert overrides["StatsScheduleState"] == "DISABLED"  # schedule timezones are ignored
    assert overrides["SmsProvider"] == "sandbox"
    assert overrides["VerifyCloudFrontOrigin"] == "false"  # the page reaches the API directly
    assert overrides["ConfigureApiGatewayAccount"] == "false"
    assert overrides["ExternalRedisUrl"].startswith("redis://")  # no VPC, no Valkey


def test_the_addresses_follow_ministacks_path_style_urls() -> None:
    system = _system()
    assert system.websocket_url == "ws://127.0.0.1:4566/_aws/execute-api/abc123/live"
    assert system.api_base == "http://127.0.0.1:4566/_aws/execute-api/def456/api"
    assert system.web_url == "http://127.0.0.1:4566/courier-local-webbucket-1/chat.html"
    assert system.outbox == Path("/tmp/courier-local-x/sandbox-outbox.jsonl")


def test_the_aws_environment_points_at_the_emulator_and_drops_real_credentials(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a developer shell with a real profile and keys
    monkeypatch.setenv("AWS_PROFILE", "production")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "real-session")
    # When the runtime builds the environment for sam and the CLIs
    env = _system().aws_env()
    # Then none of them survives and every call goes to the emulator
    assert "AWS_PROFILE" not in env
    assert "AWS_SESSION_TOKEN" not in env
    assert env["AWS_ENDPOINT_URL"] == "http://127.0.0.1:4566"
    assert env["AWS_ACCESS_KEY_ID"] == "test"


def test_the_summary_names_urls_tokens_queues_and_commands() -> None:
    text = summary(_system())
    for expected in (
        "http://127.0.0.1:4566/courier-local-webbucket-1/chat.html",
        "ws://127.0.0.1:4566/_aws/execute-api/abc123/live",
        "token-a",
        "token-b",
        "/000000000000/tx",
        "/000000000000/bulk-dlq",
        "sms send --to",
        "python -m local.runtime stats",
        "started in 41.5s",
        "mysql://courier_app:***@127.0.0.1:41234/courier",
    ):
        assert expected in text
    # The database passwords are left to `python -m local.runtime env`
    assert "writer-secret" not in text
    assert "reader-secret" not in text


def test_env_prints_the_database_urls_of_the_running_system(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given the state file of a running system (this process stands in for it)
    system = _system()
    state = tmp_path / "state.json"
    state.write_text(system.to_json())
    load = LocalSystem.from_state_file
    monkeypatch.setattr(LocalSystem, "from_state_file", lambda: load(state))
    # When `python -m local.runtime env` runs
    assert main(["env"]) == 0
    # Then its export lines name the emulator and both database URLs, passwords included
    lines = capsys.readouterr().out.splitlines()
    assert "export AWS_ENDPOINT_URL=http://127.0.0.1:4566" in lines
    assert f"export DATABASE_URL={system.database_url}" in lines
    assert f"export DATABASE_READER_URL={system.database_reader_url}" in lines


def test_a_printed_database_url_hides_only_the_password() -> None:
    url = "mysql://courier_app:s3cret@127.0.0.1:3307/courier"
    assert without_password(url) == "mysql://courier_app:***@127.0.0.1:3307/courier"
    assert without_password("mysql://reader@db:3306/courier") == "mysql://reader@db:3306/courier"
    assert without_password("") == ""


def test_make_demo_without_a_running_system_says_how_to_start_one(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="make dev"):
        LocalSystem.from_state_file(tmp_path / "absent.json")


def test_the_local_only_switches_default_to_production_behaviour() -> None:
    # Given the parameters that exist for the local runtime
    parameters = _template_parameters()
    # Then a stack deployed without overrides verifies the origin, reports only closed days
    # and writes no sandbox outbox
    assert parameters["VerifyCloudFrontOrigin"]["Default"] == "true"
    assert parameters["StatsAllowOpenDay"]["Default"] == "false"
    assert parameters["SandboxOutboxPath"]["Default"] == ""
    assert parameters["ChatConnectionsEndpoint"]["Default"] == ""


# ---- hot reload (local/hot_reload.py) and the build's reuse (local/deploy.py)


def _tree(root: Path) -> Path:
    """A working tree with one function folder and the courier package."""
    (root / "functions" / "api").mkdir(parents=True)
    (root / "functions" / "api" / "app.py").write_text("def handler(e, c):\n    return 1\n")
    (root / "functions" / "api" / "Makefile").write_text("copy-handlers:\n")
    package = root / "layers" / "courier" / "src" / "courier"
    (package / "tests").mkdir(parents=True)
    (package / "__pycache__").mkdir()
    (package / "__init__.py").write_text("")
    (package / "settings.py").write_text("X = 1\n")
    (package / "tests" / "test_x.py").write_text("")
    (package / "__pycache__" / "settings.cpython-311.pyc").write_bytes(b"")
    (root / "template.yaml").write_text("Resources: {}\n")
    return root


def test_a_function_zip_holds_what_its_makefile_copies(tmp_path: Path) -> None:
    # Given a function folder with a handler and its Makefile
    import io
    import zipfile

    from local.hot_reload import function_zip

    root = _tree(tmp_path)
    # When it is zipped for UpdateFunctionCode
    names = zipfile.ZipFile(io.BytesIO(function_zip(root / "functions" / "api"))).namelist()
    # Then the zip holds the top-level .py files only, at its root
    assert names == ["app.py"]


def test_the_overlay_layer_holds_the_courier_package_under_python(tmp_path: Path) -> None:
    # Given the courier sources with a tests directory and a bytecode cache
    import io
    import zipfile

    from local.hot_reload import LAYER_SOURCE, overlay_layer_zip

    root = _tree(tmp_path)
    # When the overlay layer is zipped
    zipped = overlay_layer_zip(root / LAYER_SOURCE)
    names = sorted(zipfile.ZipFile(io.BytesIO(zipped)).namelist())
    # Then it holds the package as the layer Makefile copies it, under python/
    assert names == ["python/courier/__init__.py", "python/courier/settings.py"]


def test_the_template_code_uris_name_each_functions_folder() -> None:
    # Given template.yaml; When its CodeUris are read without cfn-lint
    from local.hot_reload import template_code_uris

    code_uris = template_code_uris()
    # Then every serverless function with a CodeUri is there, pointing at a functions/ folder
    functions = {
        name
        for name, resource in template()["Resources"].items()
        if resource["Type"] == "AWS::Serverless::Function"
        and "CodeUri" in resource.get("Properties", {})
    }
    assert set(code_uris) == functions
    assert code_uris["ApiFunction"] == "functions/api"
    assert all((Path(uri) / "Makefile").exists() for uri in code_uris.values())


def test_a_saved_file_is_one_change_of_its_folder(tmp_path: Path) -> None:
    # Given a reloader watching a tree (no stack behind it)
    import os

    from local.hot_reload import LAYER_SOURCE, DeployedFunctions, HotReloader

    root = _tree(tmp_path)
    deployed = DeployedFunctions(
        by_folder={"functions/api": ["api-fn"]}, layered=["api-fn"], courier_layer_arn="arn"
    )
    system = LocalSystem(endpoint="http://127.0.0.1:1", redis_url="", outputs={}, workdir="")
    reloader = HotReloader(system, root=root, log=lambda line: None, deployed=deployed)
    before = reloader._watched()

    def touch(path: Path, text: str) -> None:
        path.write_text(text)
        os.utime(path, ns=(1, 1))  # an mtime of its own, whatever the clock's resolution

    # When a handler, then a courier module, then the template are saved
    touch(root / "functions" / "api" / "app.py", "def handler(e, c):\n    return 2\n")
    after_handler = reloader._watched()
    touch(root / LAYER_SOURCE / "courier" / "settings.py", "X = 2\n")
    after_layer = reloader._watched()
    touch(root / "template.yaml", "Resources: {X: 1}\n")
    after_template = reloader._watched()

    # Then each save changes exactly the unit it belongs to
    def changed(a: dict[str, object], b: dict[str, object]) -> list[str]:
        return [unit for unit in b if a.get(unit) != b[unit]]

    assert changed(before, after_handler) == ["functions/api"]
    assert changed(after_handler, after_layer) == [str(LAYER_SOURCE)]
    assert changed(after_layer, after_template) == ["rebuild"]


def test_a_save_made_right_after_start_is_reloaded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a reloader over a tree, its baseline taken by start() (no stack behind it)
    import os
    import time

    from local.hot_reload import DeployedFunctions, HotReloader

    root = _tree(tmp_path)
    deployed = DeployedFunctions(
        by_folder={"functions/api": ["api-fn"]}, layered=["api-fn"], courier_layer_arn="arn"
    )
    system = LocalSystem(endpoint="http://127.0.0.1:1", redis_url="", outputs={}, workdir="")
    reloader = HotReloader(system, root=root, log=lambda line: None, deployed=deployed)
    applied: list[list[str]] = []
    monkeypatch.setattr(reloader, "apply", applied.append)
    # The watcher thread's first look at the tree comes late (as on a loaded machine), so a
    # baseline taken by the thread itself would already include the save below.
    watched = reloader._watched
    threads_seen: set[int] = set()

    def late_in_a_new_thread() -> dict[str, object]:
        import threading

        me = threading.get_ident()
        if me != threading.main_thread().ident and me not in threads_seen:
            threads_seen.add(me)
            time.sleep(0.3)
        return watched()

    monkeypatch.setattr(reloader, "_watched", late_in_a_new_thread)

    # When a handler is saved the moment start() returns (before the thread's first poll)
    reloader.start()
    handler = root / "functions" / "api" / "app.py"
    handler.write_text("def handler(e, c):\n    return 3\n")
    os.utime(handler, ns=(2, 2))
    deadline = time.monotonic() + 5
    while not applied and time.monotonic() < deadline:
        time.sleep(0.05)
    reloader.stop()

    # Then that save is a change of its folder, not part of the baseline
    assert applied == [["functions/api"]]


def test_the_build_is_reused_only_while_its_inputs_are_unchanged(tmp_path: Path) -> None:
    # Given a tree's build-input digest
    from local.deploy import build_inputs_digest

    root = _tree(tmp_path)
    target = ("3.11", "manylinux2014_x86_64")
    first = build_inputs_digest(target, root)
    # When nothing changes, or a bytecode cache appears, the digest stays
    (root / "functions" / "api" / "__pycache__").mkdir()
    (root / "functions" / "api" / "__pycache__" / "app.cpython-311.pyc").write_bytes(b"x")
    assert build_inputs_digest(target, root) == first
    # Then a changed handler, a changed requirement or another target Python changes it
    (root / "functions" / "api" / "app.py").write_text("changed\n")
    second = build_inputs_digest(target, root)
    (root / "layers" / "courier" / "requirements.txt").write_text("redis==5\n")
    third = build_inputs_digest(target, root)
    assert len({first, second, third, build_inputs_digest(("3.12", target[1]), root)}) == 4


@pytest.mark.parametrize("background", [False, True], ids=["make dev", "e2e suite"])
def test_stop_removes_the_runs_files_in_the_background_only_when_asked(
    tmp_path: Path, background: bool
) -> None:
    # Given a runtime whose run directory holds files (as the unpacked layers of its workers)
    from local.launcher import LocalRuntime

    workdir = tmp_path / "courier-local-run"
    (workdir / "worker" / "layer").mkdir(parents=True)
    (workdir / "worker" / "layer" / "module.py").write_text("x = 1\n")
    lines: list[str] = []
    runtime = LocalRuntime(log=lines.append, remove_files_in_background=background)
    runtime._workdir = str(workdir)  # as start() sets it
    # When it stops
    runtime.stop()
    # Then make dev's stop has removed them when it returns; the e2e suite's shortly after
    if not background:
        assert not workdir.exists()
        assert any("temporary files removed" in line for line in lines)
    deadline = time.monotonic() + 10
    while workdir.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not workdir.exists()
    assert any(str(workdir) in line for line in lines) == background
