"""The local runtime's command line: `python -m local.runtime up|env|stats|alarms|invoke`.

up       start the local system (make dev), print its addresses, wait for Ctrl-C
env      export lines (AWS_*, DATABASE_URL) for the running system
stats    run the stats batch for a day and print the report
alarms   the stack's alarms and their states (local/alarms.py)
invoke   one function of the running system with an events file (local/invoke.py, make invoke)
"""

from __future__ import annotations

import argparse
import json
import shlex
import signal
import sys
import time
from pathlib import Path

from local.admin_sign_in import summary_lines as admin_summary_lines
from local.database import without_password
from local.hot_reload import HotReloader
from local.launcher import DEFAULT_PORT, DEMO_ROOMS, LocalRuntime
from local.system import FAKE_CREDENTIALS, REGION, STACK_NAME, STATE_FILE, LocalSystem


def summary(system: LocalSystem) -> str:
    o = system.outputs
    env = " ".join(
        f"{k}={v}"
        for k, v in {
            "AWS_ENDPOINT_URL": system.endpoint,
            **FAKE_CREDENTIALS,
            "AWS_DEFAULT_REGION": REGION,
        }.items()
    )
    return "\n".join(
        [
            "",
            f"courier is running locally (MiniStack {system.endpoint}, Redis {system.redis_url})",
            "",
            f"  web page        {system.web_url}",
            f"  WebSocket       {system.websocket_url}?ticket=<ticket>",
            f"  ticket          POST {system.api_base}/chat/tickets, Authorization: Bearer <token>",
            f"  HTTP API        {system.api_base}",
            f"  stats page      {system.web_url.replace('chat.html', 'stats.html')}",
            f"  database        {without_password(system.database_url)} (MariaDB, the writer)",
            f"                  {without_password(system.database_reader_url)} (the reader)",
            "                  (with passwords: .venv/bin/python -m local.runtime env)",
            f"  token alice     {system.tokens.get('alice', '')}",
            f"  token bob       {system.tokens.get('bob', '')}",
            f"                  (rooms: {', '.join(DEMO_ROOMS)}; paste one into the web page)",
            f"  SMS queue       {o['SmsTransactionalQueueUrl']}",
            f"  bulk queue      {o['SmsBulkQueueUrl']}",
            f"  dead letters    {o['SmsTransactionalDeadLetterQueueUrl']}",
            f"                  {o['SmsBulkDeadLetterQueueUrl']}",
            f"  sandbox outbox  {system.outbox}",
            *admin_summary_lines(system),
            "",
            "  send an SMS job:",
            f"    {env} \\",
            "    .venv/bin/sms send --to +821012345678 --body 'Hello from courier' \\",
            f"      --transactional-queue-url {o['SmsTransactionalQueueUrl']}",
            "  run the stats batch for today:  .venv/bin/python -m local.runtime stats",
            "  the scripted demo:              make demo",
            "",
            f"started in {system.startup_seconds:.1f}s; Ctrl-C stops everything and removes "
            f"{system.workdir}",
        ]
    )


def _up(args: argparse.Namespace) -> int:
    print(f"starting courier locally (stack {STACK_NAME}) ...", flush=True)
    runtime = LocalRuntime(
        port=args.port, state_file=STATE_FILE, log=lambda line: print(line, flush=True)
    )

    def request_stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt  # `kill` stops the system the way Ctrl-C does

    signal.signal(signal.SIGTERM, request_stop)
    reloader: HotReloader | None = None
    try:
        system = runtime.start()
        print(summary(system), flush=True)
        if args.watch:
            reloader = HotReloader(system, log=lambda line: print(line, flush=True)).start()
            print(
                "watching functions/ and layers/courier/src/ (hot reload; --no-watch turns it off)",
                flush=True,
            )
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        print("\nstopping ...", flush=True)
        return 0
    except RuntimeError as error:  # MissingTool, StartupFailed, a failed seed step
        print(f"error: {error}", file=sys.stderr)
        return 1
    finally:
        if reloader is not None:
            reloader.stop()
        runtime.stop()
        print("stopped; temporary files removed", flush=True)


def _env(args: argparse.Namespace) -> int:
    system = LocalSystem.from_state_file()
    for key in (
        "AWS_ENDPOINT_URL",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_DEFAULT_REGION",
    ):
        print(f"export {key}={shlex.quote(system.aws_env()[key])}")
    # The stats history's database, as the functions reach it (courier.settings reads these).
    for key, url in (
        ("DATABASE_URL", system.database_url),
        ("DATABASE_READER_URL", system.database_reader_url),
    ):
        if url:
            print(f"export {key}={shlex.quote(url)}")
    return 0


def _stats(args: argparse.Namespace) -> int:
    system = LocalSystem.from_state_file()
    result = system.run_stats(args.date)
    print(json.dumps(result, indent=2))
    return 0 if result["status"] == "SUCCEEDED" else 1


def _alarms(args: argparse.Namespace) -> int:
    from local.alarms import command

    system = LocalSystem.from_state_file()
    return command(system.client, STACK_NAME, publish=not args.no_queue_metrics)


def _invoke(args: argparse.Namespace) -> int:
    from local.invoke import command

    system = LocalSystem.from_state_file()
    return command(system, args.logical_id, Path(args.event_file))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m local.runtime",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)
    up = commands.add_parser("up", help="start the local system and wait for Ctrl-C")
    up.add_argument(
        "--port",
        type=int,
        default=None,
        help=f"MiniStack port (default {DEFAULT_PORT}, or a free one)",
    )
    up.add_argument(
        "--watch",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="push saved changes of functions/ and layers/courier/src/ into the running "
        "functions (default: on)",
    )
    up.set_defaults(run=_up)
    commands.add_parser("env", help="print export lines for the running system").set_defaults(
        run=_env
    )
    stats = commands.add_parser("stats", help="run the stats batch and print its report")
    stats.add_argument("--date", help="YYYY-MM-DD (default: today in Asia/Seoul)")
    stats.set_defaults(run=_stats)
    alarms = commands.add_parser("alarms", help="list the stack's alarms and their states")
    alarms.add_argument(
        "--no-queue-metrics",
        action="store_true",
        help="do not publish the queues' depths to CloudWatch first (see local/alarms.py)",
    )
    alarms.set_defaults(run=_alarms)
    invoke = commands.add_parser("invoke", help="invoke a function with an events file")
    invoke.add_argument("logical_id", help="the function's logical id in template.yaml")
    invoke.add_argument("event_file", help="an events file, e.g. events/sms/sender-valid.json")
    invoke.set_defaults(run=_invoke)
    args = parser.parse_args(argv)
    result: int = args.run(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
