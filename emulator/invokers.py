"""Calls user functions the way the Python worker does.

Keyword arguments are built from the function's bindings: the trigger value, the durable
client binding JSON for `durableClient` inputs, and a `func.Context` for a parameter named
`context`. Sync functions run in a thread pool, async ones on the loop.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import os
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import azure.functions as func
from azure.functions import _abc as functions_abc
from azure.functions import meta
from azure.functions.durable_functions import ActivityTriggerConverter

from emulator.app_loader import AppLoadError, LoadedApp
from emulator.contracts import FunctionRegistry

# Bindings the emulator knows how to fill; anything else is refused at load time.
_CLIENT_BINDING = "durableClient"
_HTTP_OUTPUT = "http"


class _TraceContext(functions_abc.TraceContext):
    @property
    def trace_parent(self) -> str:
        return ""

    @property
    def trace_state(self) -> str:
        return ""

    @property
    def attributes(self) -> dict[str, str]:
        return {}


class _RetryContext(functions_abc.RetryContext):
    @property
    def retry_count(self) -> int:
        return 0

    @property
    def max_retry_count(self) -> int:
        return 0

    @property
    def exception(self) -> Any:
        return None


class InvocationContext(func.Context):
    """The `context` argument of one invocation."""

    def __init__(
        self, function_name: str, function_directory: str, invocation_id: str | None = None
    ) -> None:
        self._invocation_id = invocation_id or str(uuid.uuid4())
        self._function_name = function_name
        self._function_directory = function_directory
        self._thread_local = threading.local()

    @property
    def invocation_id(self) -> str:
        return self._invocation_id

    @property
    def thread_local_storage(self) -> Any:
        return self._thread_local

    @property
    def function_name(self) -> str:
        return self._function_name

    @property
    def function_directory(self) -> str:
        return self._function_directory

    @property
    def trace_context(self) -> functions_abc.TraceContext:
        return _TraceContext()

    @property
    def retry_context(self) -> functions_abc.RetryContext:
        return _RetryContext()


def default_executor(activity_concurrency: int) -> ThreadPoolExecutor:
    """The worker's pool: PYTHON_THREADPOOL_THREAD_COUNT threads, else Python's default size,
    grown so that busy activities cannot starve HTTP and timer functions."""
    count = os.environ.get("PYTHON_THREADPOOL_THREAD_COUNT")
    if count and count.isdigit() and int(count) > 0:
        workers = int(count)
    else:
        workers = max(min(32, (os.cpu_count() or 1) + 4), activity_concurrency + 4)
    return ThreadPoolExecutor(max_workers=workers, thread_name_prefix="emulator-fn")


class Invoker:
    """Invokes one user function with its trigger value."""

    def __init__(
        self,
        function: Any,
        executor: ThreadPoolExecutor,
        client_binding: Callable[[], str],
        app_dir: str,
    ) -> None:
        self.name: str = function.get_function_name()
        self._fn = function.get_user_function()
        self._executor = executor
        self._client_binding = client_binding
        self._app_dir = app_dir
        self._is_async = inspect.iscoroutinefunction(self._fn)
        self._trigger_param = function.get_trigger().name
        self._client_params = _client_params(function)
        self._wants_context = _wants_context(self._fn, function)

    @property
    def is_async(self) -> bool:
        return self._is_async

    @property
    def argument_names(self) -> frozenset[str]:
        """The parameters every call fills: the trigger, durable clients and `context`."""
        names = {self._trigger_param, *self._client_params}
        return frozenset(names | {"context"} if self._wants_context else names)

    async def __call__(self, trigger_value: Any, invocation_id: str | None = None) -> Any:
        kwargs = self._arguments(trigger_value, invocation_id)
        if self._is_async:
            return await self._fn(**kwargs)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(self._fn, **kwargs))

    def _arguments(self, trigger_value: Any, invocation_id: str | None) -> dict[str, Any]:
        kwargs: dict[str, Any] = {self._trigger_param: trigger_value}
        for param in self._client_params:
            kwargs[param] = self._client_binding()
        if self._wants_context:
            kwargs["context"] = InvocationContext(self.name, self._app_dir, invocation_id)
        return kwargs


def _client_params(function: Any) -> list[str]:
    params = []
    for binding in function.get_bindings():
        if binding is function.get_trigger():
            continue
        if binding.type == _CLIENT_BINDING:
            params.append(binding.name)
        elif binding.type == _HTTP_OUTPUT and binding.name == "$return":
            continue
        else:
            raise AppLoadError(
                f"function {function.get_function_name()}: binding {binding.type} "
                f"({binding.name}) is not supported by the emulator"
            )
    return params


def _wants_context(fn: Callable[..., Any], function: Any) -> bool:
    names = {b.name for b in function.get_bindings()}
    return "context" in inspect.signature(fn).parameters and "context" not in names


def activity_invoker(invoker: Invoker) -> Callable[[str], Any]:
    """Input JSON text → ActivityTriggerConverter.decode; result → df_dumps JSON text."""

    async def run(input_text: str) -> str:
        value = ActivityTriggerConverter.decode(
            meta.Datum(type="string", value=input_text), trigger_metadata=None
        )
        result = await invoker(value)
        return str(ActivityTriggerConverter.encode(result, expected_type=None).value)

    return run


def text_invoker(invoker: Invoker) -> Callable[[str], Any]:
    """Orchestrators and entities take and return JSON strings."""

    async def run(payload: str) -> str:
        return str(await invoker(payload))

    return run


class InvokerFactory:
    """Makes invokers. Orchestrator episodes and entity batches get a thread of their own, so
    long-running sync activities never hold up replays."""

    def __init__(self, app: LoadedApp, client_binding: Callable[[], str]) -> None:
        self.executor = default_executor(app.config.max_concurrent_activities)
        self._durable_executor = ThreadPoolExecutor(1, thread_name_prefix="emulator-durable")
        self._app = app
        self._client_binding = client_binding

    def make(self, function: Any, executor: ThreadPoolExecutor | None = None) -> Invoker:
        pool = executor or self.executor
        return Invoker(function, pool, self._client_binding, str(self._app.app_dir))

    def registry(self) -> FunctionRegistry:
        app, durable = self._app, self._durable_executor
        return FunctionRegistry(
            orchestrators={
                n: text_invoker(self.make(f, durable)) for n, f in app.orchestrators.items()
            },
            activities={n: activity_invoker(self.make(f)) for n, f in app.activities.items()},
            entities={n: text_invoker(self.make(f, durable)) for n, f in app.entities.items()},
        )

    def close(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)
        self._durable_executor.shutdown(wait=False, cancel_futures=True)


__all__ = ["InvocationContext", "Invoker", "InvokerFactory"]
