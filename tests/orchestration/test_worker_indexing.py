"""The Python worker indexes the app, and the emulator serves exactly what it indexed.

The worker's own indexing code (`azure-functions-runtime`, see worker_indexing.py) loads
`function_app.py`; every function it reports must be served by the emulator hosting the
same folder: the same names, durable names, HTTP routes, methods and auth levels, timer
schedules, the same raw bindings, and the same parameters filled on each call. A function
the worker (or the host, on the worker's metadata) would reject fails the check, as the
broken apps at the end prove.
"""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path
from typing import Any

import pytest

from emulator.invokers import InvokerFactory
from emulator.testing import RunningEmulator, run_emulator
from tests.orchestration.conftest import APP_DIR, forget_app_modules
from tests.orchestration.worker_indexing import HostRejects, WorkerFunction, index_with_worker

EMULATOR_TEST_APP = APP_DIR / "tests" / "emulator_app"
_PARAMETER = re.compile(r"\{([^{}]+)\}")
_SAMPLES = {"int": "7", "long": "7", "bool": "true", "guid": "2f1e7c1a-0d1b-4a6e-9d38-3c4b5e6f7a8b"}


def sample_path(route: str) -> str:
    """A concrete path the route template matches (constraints get a value they accept)."""

    def fill(match: re.Match[str]) -> str:
        name, _, constraint = match.group(1).partition(":")
        if name.startswith("*"):
            return "a/b"
        return _SAMPLES.get(constraint.split("(")[0].rstrip("?"), "sample")

    return _PARAMETER.sub(fill, route)


def served_http(emu: RunningEmulator, worker: WorkerFunction) -> list[str]:
    trigger = worker.trigger
    served = {f.name: f for f in emu.host.http.functions}
    function = served.get(worker.name)
    if function is None:
        return [f"{worker.name}: HTTP function not served"]
    route = (trigger.get("route") or worker.name).strip("/")
    methods = frozenset(m.upper() for m in trigger.get("methods") or []) or None
    level = str(trigger.get("authLevel") or "function").lower()
    problems = []
    if function.route != route:
        problems.append(f"{worker.name}: route {function.route!r}, worker {route!r}")
    if function.methods != methods:
        problems.append(f"{worker.name}: methods {function.methods}, worker {methods}")
    if function.access.value != level:
        problems.append(f"{worker.name}: auth level {function.access.value}, worker {level}")
    for method in sorted(methods or {"GET"}):
        found = emu.host.http.find(method, sample_path(route))
        if found is None or found[0].name != worker.name:
            reached = found[0].name if found else "nothing"
            problems.append(f"{worker.name}: {method} /{route} reaches {reached}")
    return problems


def served_timer(emu: RunningEmulator, worker: WorkerFunction) -> list[str]:
    trigger = worker.trigger
    timers = {t.name: t for t in emu.host.timers.functions}
    timer = timers.get(worker.name)
    if timer is None:
        return [f"{worker.name}: timer not scheduled"]
    problems = []
    if timer.schedule.expression != trigger["schedule"]:
        problems.append(f"{worker.name}: schedule {timer.schedule.expression!r}")
    if timer.run_on_startup != bool(trigger.get("runOnStartup")):
        problems.append(f"{worker.name}: runOnStartup {timer.run_on_startup}")
    if "useMonitor" in trigger and timer.use_monitor != bool(trigger["useMonitor"]):
        problems.append(f"{worker.name}: useMonitor {timer.use_monitor}")
    return problems


def served_durable(emu: RunningEmulator, worker: WorkerFunction) -> list[str]:
    trigger = worker.trigger
    registry = emu.runtime.registry
    kinds: dict[str, tuple[dict[str, Any], str | None]] = {
        "orchestrationTrigger": (registry.orchestrators, trigger.get("orchestration")),
        "activityTrigger": (registry.activities, trigger.get("activity")),
        "entityTrigger": (registry.entities, trigger.get("entityName")),
    }
    served, explicit = kinds[trigger["type"]]
    durable_name = explicit or worker.name
    if trigger["type"] == "entityTrigger":  # entity names are lower-cased (EntityId)
        durable_name = durable_name.lower()
    if durable_name not in served:
        return [f"{worker.name}: {trigger['type']} {durable_name!r} not served"]
    return []


SERVED_BY_TRIGGER = {
    "httpTrigger": served_http,
    "timerTrigger": served_timer,
    "orchestrationTrigger": served_durable,
    "activityTrigger": served_durable,
    "entityTrigger": served_durable,
}


def emulator_functions(emu: RunningEmulator) -> dict[str, Any]:
    """The function objects the emulator loaded, by function name."""
    app = emu.host.app
    loaded = [*app.http, *app.timers]
    loaded += [*app.orchestrators.values(), *app.activities.values(), *app.entities.values()]
    return {f.get_function_name(): f for f in loaded}


def differences(emu: RunningEmulator, indexed: list[WorkerFunction]) -> list[str]:
    """Everything in which the emulator's app differs from the worker's index."""
    loaded = emulator_functions(emu)
    problems = [f"{name}: served but not indexed by the worker" for name in loaded]
    problems = [p for p in problems if p.split(":")[0] not in {w.name for w in indexed}]
    factory = InvokerFactory(emu.host.app, lambda: "{}")
    try:
        for worker in indexed:
            serve = SERVED_BY_TRIGGER.get(worker.trigger["type"])
            if serve is None:
                problems.append(f"{worker.name}: trigger {worker.trigger['type']} not hosted")
                continue
            problems += serve(emu, worker)
            function = loaded.get(worker.name)
            if function is None:
                continue
            raw = [json.loads(text) for text in function.get_raw_bindings()]
            if raw != worker.raw_bindings:
                problems.append(f"{worker.name}: raw bindings {raw}, worker {worker.raw_bindings}")
            invoker = factory.make(function)
            if invoker.argument_names != worker.parameters:
                problems.append(
                    f"{worker.name}: called with {sorted(invoker.argument_names)}, "
                    f"worker {sorted(worker.parameters)}"
                )
            if invoker.is_async != worker.is_async:
                problems.append(f"{worker.name}: async is {invoker.is_async} here, not there")
    finally:
        factory.close()
    return problems


@pytest.mark.parametrize("app_dir", [APP_DIR, EMULATOR_TEST_APP], ids=["product", "emulator-app"])
async def test_emulator_serves_what_the_worker_indexes(app_dir: Path, tmp_path: Path) -> None:
    forget_app_modules()
    indexed = index_with_worker(app_dir)
    forget_app_modules()
    assert indexed, "the worker indexed no function"
    async with run_emulator(app_dir, tmp_path / "state.sqlite") as emu:
        assert differences(emu, indexed) == []
        assert len(emulator_functions(emu)) == len(indexed)
    forget_app_modules()


# --- apps the worker or the host refuse ------------------------------------------------------

_HEADER = """
import azure.functions as func
import azure.durable_functions as df
app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)

@app.route(route="fine")
def fine(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse("ok")
"""

BROKEN = {
    "undeclared parameter": (
        """
        @app.activity_trigger(input_name="data")
        def misnamed(payload: str) -> str:
            return payload
        """,
        "declared in Python but not in the function definition",
    ),
    "context not a Context": (
        """
        @app.route(route="ctx")
        def with_context(req: func.HttpRequest, context: str) -> func.HttpResponse:
            return func.HttpResponse("ok")
        """,
        'the "context" parameter is expected to be of type azure.functions.Context',
    ),
    "return annotation": (
        """
        @app.route(route="number")
        def number(req: func.HttpRequest) -> int:
            return 1
        """,
        'Python return annotation "int" does not match binding type "http"',
    ),
    "binding name": (
        """
        @app.activity_trigger(input_name="two__parts")
        def two_parts(two__parts: str) -> str:
            return two__parts
        """,
        "the binding name two__parts is invalid",
    ),
    "duplicate function name": (
        """
        @app.route(route="again")
        def fine(req: func.HttpRequest) -> func.HttpResponse:
            return func.HttpResponse("ok")
        """,
        "does not have a unique function name",
    ),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_a_function_the_worker_rejects_fails_the_check(case: str, tmp_path: Path) -> None:
    source, message = BROKEN[case]
    (tmp_path / "function_app.py").write_text(_HEADER + textwrap.dedent(source))
    with pytest.raises((RuntimeError, ValueError, HostRejects)) as raised:
        index_with_worker(tmp_path)
    assert message in str(raised.value)
