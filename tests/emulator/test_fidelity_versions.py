"""Orchestration versions as the pinned extension bundle honours them (issue 11, section 1.10).

`host.json` pins `Microsoft.Azure.Functions.ExtensionBundle` `[4.*, 5.0.0)`; Azure resolves it to
the newest 4.x bundle, whose Durable extension (3.1 and later, bundle 4.26 and later) honours
orchestration versioning. Sources: durabletask `src/DurableTask.Core/TaskOrchestrationDispatcher.cs`
(the match and failure strategies, "Orchestration version did not comply with Worker
Versioning"), `src/DurableTask.Core/Settings/VersioningSettings.cs` (`CompareVersions`),
`TaskOrchestrationDispatcher.cs` again for continue-as-new keeping the version; azure-functions-
durable `models/DurableOrchestrationContext.py` (`call_sub_orchestrator`: "If not specified, the
defaultVersion from host.json will be used").
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from emulator.app_loader import AppLoadError, read_host_config
from emulator.versioning import VERSION_MISMATCH, Versioning, compare_versions
from tests.emulator.runtime_support import json_input, registry, running


def reports_versions(ctx: Any) -> Any:
    default_child = yield ctx.call_sub_orchestrator("child", None)
    pinned_child = yield ctx.call_sub_orchestrator("child", None, None, "1.0")
    return [ctx.version, default_child, pinned_child]


def child(ctx: Any) -> Any:
    return ctx.version
    yield  # a generator


def loops_once(ctx: Any) -> Any:
    if ctx.get_input() == 0:
        ctx.continue_as_new(1)
        return None
    return ctx.version
    yield  # a generator


async def test_new_instances_get_the_default_version(tmp_path: Path) -> None:
    functions = registry({"parent": reports_versions, "child": child, "loop": loops_once})
    versioning = Versioning(default_version="2.0")
    async with running(functions, tmp_path / "s.db", versioning=versioning) as runtime:
        parent = await runtime.start_new("parent", None, None)
        looped = await runtime.start_new("loop", None, json_input(0))
        older = await runtime.start_new("loop", None, json_input(1), version="1.5")
        statuses = [await runtime.wait_for_instance(i) for i in (parent, looped, older)]
        history = runtime.get_history(parent)

    assert [s["output"] for s in statuses] == [["2.0", "2.0", "1.0"], "2.0", "1.5"]
    assert [e["Version"] for e in history if e["EventType"] == 7] == ["2.0", "1.0"]


@pytest.mark.parametrize(
    ("strategy", "version", "runs"),
    [
        ("CurrentOrOlder", "2.0", True),
        ("CurrentOrOlder", "1.9", True),
        ("CurrentOrOlder", "2.1", False),
        ("Strict", "1.9", False),
        ("None", "9.0", True),
    ],
)
@pytest.mark.parametrize("failure", ["Reject", "Fail"])
async def test_the_worker_runs_only_versions_it_matches(
    tmp_path: Path, strategy: str, version: str, runs: bool, failure: str
) -> None:
    versioning = Versioning("2.0", strategy, failure)
    functions = registry({"child": child})
    async with running(functions, tmp_path / "s.db", versioning=versioning) as runtime:
        instance_id = await runtime.start_new("child", None, None, version=version)
        status = await runtime.wait_for_instance(instance_id)
        history = runtime.get_history(instance_id)

    if runs:
        assert (status["runtimeStatus"], status["output"]) == ("Completed", version)
        return
    assert status["runtimeStatus"] == "Failed"
    if failure == "Fail":  # what DTFx records
        assert status["output"] == VERSION_MISMATCH
    else:  # Azure would abandon the work item forever: loud here
        assert "would be abandoned and retried forever" in status["output"]
    assert [e["EventType"] for e in history] == [12, 0, 1, 13]  # never invoked


def test_versions_compare_like_dtfx() -> None:
    assert compare_versions("1.10", "1.9") > 0  # System.Version, not text
    assert compare_versions("1.0", "1.0.0") < 0  # an absent build is -1
    assert compare_versions("", "1") < 0 and compare_versions(None, "") == 0
    assert compare_versions("v2", "V2") == 0  # otherwise text, ignoring case
    assert compare_versions("10", "9") < 0  # one number is not a System.Version


def test_host_json_versioning(tmp_path: Path) -> None:
    durable = {"defaultVersion": "3.1", "versionMatchStrategy": "strict"}
    host = {"extensions": {"durableTask": durable}}
    (tmp_path / "host.json").write_text(json.dumps(host))
    assert read_host_config(tmp_path).versioning == Versioning("3.1", "Strict", "Reject")
    durable["versionFailureStrategy"] = "Ignore"
    (tmp_path / "host.json").write_text(json.dumps(host))
    with pytest.raises(AppLoadError, match="versionFailureStrategy"):
        read_host_config(tmp_path)
    (tmp_path / "host.json").write_text("{}")
    assert read_host_config(tmp_path).versioning == Versioning("", "CurrentOrOlder", "Reject")
