"""Cold-start import cost of the SMS handler modules against a bare `import boto3`.

Every figure is one NEW `python -c` process timing one import with `time.perf_counter`, in the
environment a deployed function has (the template's variables, `LAMBDA_TASK_ROOT` set so
Powertools keeps tracing ON as on Lambda, fake credentials), with the function code directory
first on `sys.path` and the layer's `src` directory after it (where `/opt/python` would be).
Runs are interleaved (boto3, sender, receipts, boto3, ...) so machine noise hits all three;
bytecode is compiled once by an untimed warm-up process, as a deployed layer ships it.

Prints `bench cold-import: ...`; exits 1 when `import sender` costs more than 2x `import boto3`.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import (
    ACCOUNT,
    FUNCTION_DIR,
    LAMBDA_LIKE_ENV,
    LAYER_DIR,
    REGION,
    detail,
    median,
    summary,
)

RUNS = 15
TARGET_RATIO = 2.0
MODULES = ("boto3", "sender", "receipts")

_PROBE = """
import sys, time
sys.path[0:0] = [{function_dir!r}, {layer_dir!r}]
cpu_start = time.process_time()
start = time.perf_counter()
import {module}
elapsed = (time.perf_counter() - start) * 1000
cpu = (time.process_time() - cpu_start) * 1000
observability = sys.modules.get("courier.observability")
tracing = "n/a" if observability is None else ("off" if observability.tracer.disabled else "on")
print(tracing, f"{{elapsed:.3f}}", f"{{cpu:.3f}}")
"""


def lambda_env(handler: str) -> dict[str, str]:
    """The process environment of a deployed sender/receipts function (tracing active)."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("AWS_", "POWERTOOLS_", "SMS_", "PYTHON", "REDIS_", "LAMBDA_"))
    }
    env.update(LAMBDA_LIKE_ENV)
    del env["POWERTOOLS_TRACE_DISABLED"]  # tracing is active on Lambda (template: Tracing: Active)
    env.update(
        {
            "LAMBDA_TASK_ROOT": str(FUNCTION_DIR),
            "LAMBDA_RUNTIME_DIR": "/var/runtime",
            "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
            "AWS_LAMBDA_FUNCTION_NAME": "courier-sms-transactional-sender",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/courier/sms-transactional-sender",
            "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
            "AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1:2000",
            "_HANDLER": handler,
            "SMS_DEAD_LETTER_QUEUE_URL": (
                f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/courier-sms-transactional-dlq"
            ),
        }
    )
    return env


def import_ms(module: str) -> tuple[float, float, str]:
    """Wall and CPU milliseconds one fresh interpreter spends in `import <module>`, tracer state."""
    code = _PROBE.format(function_dir=str(FUNCTION_DIR), layer_dir=str(LAYER_DIR), module=module)
    handler = "boto3" if module == "boto3" else f"{module}.handler"
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=FUNCTION_DIR,
        env=lambda_env(handler),
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    if result.returncode != 0:
        raise RuntimeError(f"import {module} failed:\n{result.stderr}")
    tracing, elapsed, cpu = result.stdout.strip().splitlines()[-1].split()
    return float(elapsed), float(cpu), tracing


def main() -> int:
    for module in MODULES:  # compile and cache bytecode; not timed
        import_ms(module)
    runs: dict[str, list[float]] = {module: [] for module in MODULES}
    cpu_runs: dict[str, list[float]] = {module: [] for module in MODULES}
    tracing: set[str] = set()
    for _ in range(RUNS):
        for module in MODULES:
            elapsed, cpu, state = import_ms(module)
            runs[module].append(elapsed)
            cpu_runs[module].append(cpu)
            if module != "boto3":
                tracing.add(state)
    if tracing != {"on"}:
        raise RuntimeError(f"the tracer must be on as on Lambda; it was {sorted(tracing)}")
    boto3_ms, sender_ms, receipts_ms = (median(runs[m]) for m in MODULES)
    ratio = sender_ms / boto3_ms
    boto3_cpu, sender_cpu, receipts_cpu = (median(cpu_runs[m]) for m in MODULES)
    met = ratio <= TARGET_RATIO
    summary(
        "cold-import",
        {
            "boto3_ms": f"{boto3_ms:.1f}",
            "sender_ms": f"{sender_ms:.1f}",
            "receipts_ms": f"{receipts_ms:.1f}",
            "ratio": f"{ratio:.2f}",
            "receipts_ratio": f"{receipts_ms / boto3_ms:.2f}",
            "cpu_ratio": f"{sender_cpu / boto3_cpu:.2f}",
            "receipts_cpu_ratio": f"{receipts_cpu / boto3_cpu:.2f}",
            "runs": RUNS,
            "tracing": "on",
            "target_ratio": f"<={TARGET_RATIO:g}",
            "target": "met" if met else "MISSED",
        },
    )
    for module in MODULES:
        detail(f"import {module} wall ms per run: " + ", ".join(f"{v:.1f}" for v in runs[module]))
    detail(
        "median CPU ms (load-insensitive view): "
        f"boto3 {boto3_cpu:.1f}, sender {sender_cpu:.1f}, receipts {receipts_cpu:.1f}"
    )
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
