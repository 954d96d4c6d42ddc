"""Inside a local function worker: append each AWS call it makes to a JSON Lines file.

The e2e suite puts this directory on MiniStack's PYTHONPATH (its function workers inherit
MiniStack's environment) with IAM_CHECK_RECORD_DIR set. Python imports `sitecustomize` at start;
in any process that is not a function worker (no AWS_LAMBDA_FUNCTION_NAME) this does nothing.
botocore comes from the function's layer, which is on sys.path only once the worker has set it
up, so the hooks are added when `botocore.handlers` is first imported (an import-system finder
that wraps that one module's loader); every botocore session created after that carries them.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import json
import os
import sys
import threading
from typing import Any

_DIR = os.environ.get("IAM_CHECK_RECORD_DIR")
_FUNCTION = os.environ.get("AWS_LAMBDA_FUNCTION_NAME")
_lock = threading.Lock()


def _remember_params(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
    context["iam_check_params"] = dict(params)


def _record(model: Any, params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
    line = json.dumps(
        {
            "function": _FUNCTION,
            "service": model.service_model.service_name,
            "operation": model.name,
            "params": context.get("iam_check_params", {}),
            "url": params.get("url", ""),
        },
        default=str,
    )
    with _lock, open(os.path.join(str(_DIR), f"{os.getpid()}.jsonl"), "a") as out:
        out.write(line + "\n")


class _HookBotocore(importlib.abc.MetaPathFinder):
    def find_spec(self, name: str, path: Any, target: Any = None) -> Any:
        if name != "botocore.handlers":
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is None or spec.loader is None:
            return spec
        loader = spec.loader
        original = loader.exec_module  # type: ignore[attr-defined]

        def exec_module(module: Any) -> None:
            original(module)
            module.BUILTIN_HANDLERS.append(("before-parameter-build", _remember_params))
            module.BUILTIN_HANDLERS.append(("before-call", _record))

        loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec


if _DIR and _FUNCTION:
    sys.meta_path.insert(0, _HookBotocore())
