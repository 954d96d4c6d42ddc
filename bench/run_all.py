"""Run every benchmark in its own process, streaming its output; exit 1 if any of them failed.

    .venv/bin/python bench/run_all.py                      # all of them
    .venv/bin/python bench/run_all.py sms_batch cold_import  # some of them

Each benchmark prints one `bench <name>: ...` line (with `target=met|MISSED`) and exits non-zero
when it misses its target or breaks; this runner's recap lines never start with "bench ".
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
BENCHMARKS = ("cold_import", "sms_batch", "sms_throughput")
TIMEOUT_SECONDS = 900


def run(name: str) -> tuple[int, float]:
    print(f"==> bench/{name}.py", flush=True)
    start = time.monotonic()
    try:
        # Output is inherited, so it streams as the benchmark prints it.
        code = subprocess.run(
            [sys.executable, str(BENCH_DIR / f"{name}.py")],
            cwd=ROOT,
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
    names: list[str] = parser.parse_args(argv).names or list(BENCHMARKS)
    unknown = sorted(set(names) - set(BENCHMARKS))
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)}")
    results = {name: run(name) for name in names}
    print("==> summary", flush=True)
    for name, (code, seconds) in results.items():
        status = "ok" if code == 0 else f"FAILED (exit {code})"
        print(f"  {name}: {status} in {seconds:.1f}s", flush=True)
    return 0 if all(code == 0 for code, _ in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
