"""The Python worker's own indexing of a Function App, for comparing it with the emulator.

On Azure the app is not loaded by us: the Python language worker imports `function_app.py`,
indexes it (`loader.index_function_app`), builds each function's metadata and raw bindings
(`loader.process_indexed_function` → `functions.Registry.add_indexed_function`, which
rejects a function whose parameters, annotations or binding directions it cannot serve),
and the host then validates the names it receives. This module runs that code, from the
PyPI package `azure-functions-runtime` (pinned in requirements-worker-index.txt), which
`make install` puts into `.tools/azure-functions-runtime` with pip's `--target`,
`--no-deps` and `--ignore-requires-python`: the package declares Python >= 3.13, but these
modules are pure Python and run on 3.11. The worker Azure runs for Python 3.11 (the classic
worker 4.x) is not on PyPI, and `azure-functions-worker` there (1.1.9, 2020) predates
worker indexing (requirements-worker-index.txt says more).

The only stand-in is `protos`: the worker passes its generated protobuf module, of which
indexing uses the `BindingInfo` enum values (FunctionRpc.proto: Direction in=0, out=1,
inout=2; DataType undefined=0, string=1, binary=2, stream=3) and two message constructors
whose fields it only stores.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
WORKER_DIR = Path(os.environ.get("WORKER_INDEX_DIR", ROOT / ".tools" / "azure-functions-runtime"))
INSTALL_HINT = (
    f"the Python worker's indexing code is not installed in {WORKER_DIR}: run `make install` "
    "(it installs requirements-worker-index.txt there)"
)

# The host's checks on worker-indexed metadata (azure-functions-host src/WebJobs.Script/
# Utility.cs, ValidateName and ValidateBinding; the binding-name rule as relaxed for snake
# case in host 4.1038, PR #10764; older hosts refuse any underscore in a binding name).
FUNCTION_NAME = re.compile(r"^[a-z][a-z0-9_\-]{0,127}$(?<!^host$)", re.IGNORECASE)
BINDING_NAME = re.compile(r"^(?!.*__)([a-zA-Z_][a-zA-Z0-9_]{0,127}|\$return)$")


class _BindingInfo:
    """Stands in for the protobuf `BindingInfo` message: its enum values and constructor."""

    out, inout = 1, 2
    undefined, string, binary, stream = 0, 1, 2, 3

    def __init__(self, **fields: Any) -> None:
        self.__dict__.update(fields)


setattr(_BindingInfo, "in", 0)  # `in` is a keyword


class _Message:
    def __init__(self, **fields: Any) -> None:
        self.__dict__.update(fields)


PROTOS = SimpleNamespace(
    BindingInfo=_BindingInfo, RpcFunctionMetadata=_Message, RpcRetryOptions=_Message
)


class HostRejects(Exception):
    """The host would refuse the metadata the worker produced."""


@dataclass
class WorkerFunction:
    """One function as the worker reports it to the host."""

    name: str
    raw_bindings: list[dict[str, Any]]
    is_async: bool
    parameters: frozenset[str]  # what the worker passes on each call

    @property
    def trigger(self) -> dict[str, Any]:
        return next(b for b in self.raw_bindings if b["type"].endswith("Trigger"))


@contextlib.contextmanager
def _app_on_path(app_dir: Path) -> Iterator[None]:
    """Imports from app_dir; forgets afterwards every module it imported from there."""
    before = set(sys.modules)
    sys.modules.pop("function_app", None)
    sys.path.insert(0, str(app_dir))
    try:
        yield
    finally:
        sys.path.remove(str(app_dir))
        for name in set(sys.modules) - before:
            origin = getattr(sys.modules[name], "__file__", None) or ""
            if origin.startswith(str(app_dir)) and "site-packages" not in origin:
                del sys.modules[name]
        sys.modules.pop("function_app", None)


def _worker_modules() -> Any:
    if not (WORKER_DIR / "azure_functions_runtime").is_dir():
        raise RuntimeError(INSTALL_HINT)
    if str(WORKER_DIR) not in sys.path:
        sys.path.append(str(WORKER_DIR))  # after the venv: its azure-functions stays ours
    from azure_functions_runtime import functions, loader
    from azure_functions_runtime.bindings import meta

    return loader, functions, meta


def index_with_worker(app_dir: Path) -> list[WorkerFunction]:
    """Indexes app_dir/function_app.py exactly as the worker does; raises what it raises
    (FunctionLoadError, ValueError…), or HostRejects for names the host refuses."""
    loader, functions, meta = _worker_modules()
    with _app_on_path(app_dir):
        indexed = loader.index_function_app(str(app_dir / "function_app.py"))
        meta.load_binding_registry()
        registry = functions.Registry()
        metadata, _ = loader.process_indexed_function(PROTOS, registry, indexed, str(app_dir))
    found = []
    for entry in metadata:
        info = registry.get_function(entry.function_id)
        raw = [json.loads(text) for text in entry.raw_bindings]
        _host_validates(entry.name, raw)
        parameters = set(info.input_types) | set(info.output_types)
        if info.requires_context:
            parameters.add("context")
        found.append(
            WorkerFunction(
                name=entry.name,
                raw_bindings=raw,
                is_async=info.is_async,
                parameters=frozenset(parameters),
            )
        )
    return found


def _host_validates(name: str, raw_bindings: list[dict[str, Any]]) -> None:
    if not FUNCTION_NAME.match(name):
        raise HostRejects(f"'{name}' is not a valid function name.")
    for binding in raw_bindings:
        if not BINDING_NAME.match(str(binding.get("name"))):
            raise HostRejects(
                f"function {name}: the binding name {binding.get('name')} is invalid."
            )
