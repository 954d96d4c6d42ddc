"""LocalRuntime: the whole system on one machine (MiniStack, redis-server, MariaDB), started with
template.yaml deployed by sam, seeded, and stopped again. `python -m local.runtime up` (make dev)
and the e2e tests start it.

Hand-written because no library starts an emulator, deploys a SAM template into it and tears it
all down again; the AWS work itself goes through the SAM CLI (local/deploy.py) and boto3.
Emulator differences are handled by configuration only (parameter overrides, the layer's target
Python, two post-deploy repairs in local/emulator_repairs.py), never by another copy of the code
or the template; README "Running locally" lists them.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager, suppress
from pathlib import Path

from local.admin_sign_in import set_up_admin_sign_in
from local.database import LocalDatabase
from local.deploy import StartupFailed, build, deploy, failure, stack_outputs, upload_web
from local.emulator_repairs import import_http_api_routes, repair_event_source_mappings
from local.redis_server import RedisServer, free_port
from local.seed import seed as seed_demo_data
from local.system import REGION, LocalSystem
from local.toolchain import Toolchain

DEFAULT_PORT = 4566
DEMO_ROOMS = ("lobby", "demo-*")

Log = Callable[[str], None]


def wait_until(check: Callable[[], bool], *, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise StartupFailed(f"{what} did not come up within {timeout:.0f}s")


def stop_process_group(process: subprocess.Popen[bytes] | None) -> None:
    """Stop a process started with its own session, and everything it started (TERM, then KILL)."""
    if process is None or process.poll() is not None:
        return
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=5)


class LocalRuntime:
    """Starts redis-server, MariaDB and MiniStack, builds and deploys the stack, seeds it; stops
    it all."""

    def __init__(
        self,
        *,
        port: int | None = None,
        state_file: Path | None = None,
        seed: bool = True,
        log: Log = print,
        ministack_env: dict[str, str] | None = None,
        remove_files_in_background: bool = False,
    ) -> None:
        self._port = port
        # The run's directory holds MiniStack's state, its function workers and the layer they
        # share (~90 MB, ~5,300 files): removing it is seconds the e2e suite need not wait for
        # (`make dev` does: it says so when it is done).
        self._remove_in_background = remove_files_in_background
        # Added to MiniStack's environment, which its function workers inherit (the e2e suite
        # records the functions' AWS calls this way).
        self._ministack_env = dict(ministack_env or {})
        self._state_file = state_file
        self._seed = seed
        self._log = log
        self._redis = ExitStack()
        # Public: the fault suite stops and starts it to take Redis away from the functions.
        self.redis: RedisServer | None = None
        self.database: LocalDatabase | None = None
        self._ministack: subprocess.Popen[bytes] | None = None
        self._workdir: str | None = None
        self.system: LocalSystem | None = None

    def __enter__(self) -> LocalSystem:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---- start
    def start(self) -> LocalSystem:
        started = time.monotonic()
        tools = Toolchain.find()
        self._workdir = tempfile.mkdtemp(prefix="courier-local-")
        workdir = Path(self._workdir)
        port = free_port(self._port or DEFAULT_PORT)
        endpoint = f"http://127.0.0.1:{port}"

        # MariaDB starts and is migrated in a thread while the steps below run.
        self.database = LocalDatabase()
        self.database.start_in_background()
        # redis-server starts in a thread too: a new cluster-mode node reports cluster_state:ok
        # only ~2 s after start-up, and nothing needs it before the deploy is done (MiniStack
        # only hands its address out).
        self.redis = RedisServer("--logfile", str(workdir / "redis.log"))
        self._redis.callback(self.redis.close)
        starting = ThreadPoolExecutor(max_workers=1, thread_name_prefix="redis-start")
        self._redis.callback(starting.shutdown)
        redis_started = starting.submit(self.redis.start)
        redis_url = self.redis.url
        with self._step("MiniStack started"):
            self._ministack = self._start_ministack(tools, port, self.redis.port, workdir)
        # The build needs neither process: it runs while MiniStack starts.
        with self._step("sam build (layer for the host Python)") as step:
            if not build(tools, workdir):
                step.append("inputs unchanged, reused .aws-sam/local/build")
        with self._step("MiniStack answering"):
            wait_until(lambda: self._ministack_ready(endpoint), timeout=60, what="MiniStack")
        system = LocalSystem(
            endpoint=endpoint,
            redis_url=redis_url,
            outputs={},
            workdir=str(workdir),
            database_url=self.database.writer_url,
            database_reader_url=self.database.reader_url,
        )
        with self._step("sam deploy --config-env local"):
            deploy(tools, system)
            system.outputs = stack_outputs(system)
        # Neither is needed before the functions run: the deploy only hands their addresses out.
        with self._step("redis-server ready, MariaDB migrated (started meanwhile)"):
            redis_started.result()
            self.database.wait()
        # The web upload (a process of its own) runs while the repairs and the seeding do.
        with ThreadPoolExecutor(max_workers=1) as background:
            web_upload = background.submit(upload_web, tools, system)
            with self._step("emulator repairs"):
                repair_event_source_mappings(system)
                import_http_api_routes(system)
                system.admin_users = set_up_admin_sign_in(system)
            with self._step("demo tokens" + (" and seed data" if self._seed else "")):
                system.tokens = {
                    "alice": system.mint_token("alice", "Alice", DEMO_ROOMS),
                    "bob": system.mint_token("bob", "Bob", DEMO_ROOMS),
                }
                if self._seed:
                    seed_demo_data(system)
            with self._step("web app upload (in the background meanwhile)"):
                web_upload.result()
        system.startup_seconds = round(time.monotonic() - started, 1)
        self.system = system
        if self._state_file is not None:
            self._state_file.write_text(system.to_json())
        return system

    @contextmanager
    def _step(self, name: str) -> Iterator[list[str]]:
        """Logs the step's time; notes the step appends go after it."""
        t0 = time.monotonic()
        notes: list[str] = []
        yield notes
        self._log(f"  {name}: {time.monotonic() - t0:.1f}s" + "".join(f" ({n})" for n in notes))

    def _start_ministack(
        self, tools: Toolchain, port: int, redis_port: int, workdir: Path
    ) -> subprocess.Popen[bytes]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(
            BIND_HOST="127.0.0.1",  # never reachable from another machine
            GATEWAY_PORT=str(port),
            MINISTACK_HOST="127.0.0.1",
            MINISTACK_REGION=REGION,
            # Its ElastiCache answers with the Redis address it was started with.
            REDIS_HOST="127.0.0.1",
            REDIS_PORT=str(redis_port),
            S3_DATA_DIR=str(workdir / "s3"),
            STATE_DIR=str(workdir / "state"),
            TMPDIR=str(workdir),
            SFTP_ENABLED="0",
            IOT_MTLS_ENABLED="0",
            LOG_LEVEL="INFO",
        )
        env.update(self._ministack_env)
        log = (workdir / "ministack.log").open("wb")
        # Its own session: Ctrl-C in the terminal reaches us, and we stop its whole group
        # (MiniStack plus the function workers it spawns).
        # Through local/ministack_boot.py: MiniStack with its workers' files made fast (-P: the
        # script's folder, local/, stays off its sys.path).
        return subprocess.Popen(
            [str(tools.ministack_python), "-P", str(Path(__file__).with_name("ministack_boot.py"))],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
            cwd=workdir,
        )

    def _ministack_ready(self, endpoint: str) -> bool:
        if self._ministack is not None and self._ministack.poll() is not None:
            log = Path(self._workdir or ".") / "ministack.log"
            raise StartupFailed(failure("MiniStack exited", log))
        import urllib.request

        try:
            with urllib.request.urlopen(f"{endpoint}/_ministack/health", timeout=2) as response:
                return bool(response.status == 200)
        except OSError:
            return False

    # ---- stop
    def stop(self) -> None:
        # Each step logs its time, as the start's do: a slow stop shows which process held it.
        with self._step("MiniStack stopped"):
            stop_process_group(self._ministack)
            self._ministack = None
        with self._step("redis-server stopped"):
            self._redis.close()
        if self.database is not None:
            with self._step("MariaDB stopped"):
                self.database.close()
                self.database = None
        if self._state_file is not None:
            with suppress(FileNotFoundError):
                self._state_file.unlink()
        if self._workdir is not None and self._remove_in_background:
            # `rm` detached by a shell that exits at once (nothing of ours left to reap), in a
            # session of its own: it goes on after this process ends; Ctrl-C does not stop it.
            subprocess.run(
                ["sh", "-c", 'rm -rf -- "$1" </dev/null >/dev/null 2>&1 &', "sh", self._workdir],
                check=True,
                start_new_session=True,
            )
            self._log(f"  temporary files being removed in the background: {self._workdir}")
            self._workdir = None
        if self._workdir is not None:
            with self._step("temporary files removed"):
                shutil.rmtree(self._workdir, ignore_errors=True)
                self._workdir = None
