"""Run every benchmark in its own process, streaming its output; exit 1 if any of them failed.

    .venv/bin/python bench/run_all.py                      # all of them
    .venv/bin/python bench/run_all.py sms_batch cold_start   # some of them
    .venv/bin/python bench/run_all.py --storage-ms 10        # simulated DynamoDB latency per call
    .venv/bin/python bench/run_all.py --client-cpu-ms 0.5    # plus client-side CPU per call

Each benchmark prints one `bench <name>: ...` line (with `target=met|MISSED`) and exits non-zero
when it misses its target or breaks; this runner's recap lines never start with "bench ".
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
BENCHMARKS = ("cold_start", "sms_batch", "sms_throughput", "chat_fanout", "stats", "stats_range")
TIMEOUT_SECONDS = 900


def run(name: str, env: dict[str, str]) -> tuple[int, float]:
    print(f"==> bench/{name}.py", flush=True)
    start = time.monotonic()
    try:
        # Output is inherited, so it streams as the benchmark prints it.
        code = subprocess.run(
            [sys.executable, str(BENCH_DIR / f"{name}.py")],
            cwd=ROOT,
            env=env,
            check=False,
            timeout=TIMEOUT_SECONDS,
        ).returncode
    except subprocess.TimeoutExpired:
        print(f"  {name}: timed out after {TIMEOUT_SECONDS}s", flush=True)
        code = 124
    return code, time.monotonic() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("names", nargs="*", metavar="NAME", help=f"any of {', '.join(BENCHMARKS)}")
    parser.add_argument(
        "--storage-ms",
        type=float,
        help="simulated latency per DynamoDB call for sms_batch and sms_throughput "
        "(sets BENCH_STORAGE_MS; default 5)",
    )
    parser.add_argument(
        "--client-cpu-ms",
        type=float,
        help="CPU burnt per simulated call (sets BENCH_CLIENT_CPU_MS; default 0)",
    )
    args = parser.parse_args(argv)
    names: list[str] = args.names or list(BENCHMARKS)
    env = dict(os.environ)
    if args.storage_ms is not None:
        env["BENCH_STORAGE_MS"] = f"{args.storage_ms:g}"
    if args.client_cpu_ms is not None:
        env["BENCH_CLIENT_CPU_MS"] = f"{args.client_cpu_ms:g}"
    unknown = sorted(set(names) - set(BENCHMARKS))
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)}")
    results = {name: run(name, env) for name in names}
    print("==> summary", flush=True)
    for name, (code, seconds) in results.items():
        status = "ok" if code == 0 else f"FAILED (exit {code})"
        print(f"  {name}: {status} in {seconds:.1f}s", flush=True)
    return 0 if all(code == 0 for code, _ in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
