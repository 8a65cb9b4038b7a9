"""What the extension refuses when an orchestration schedules work, and what Azure then does.

A few refusals fail the orchestration on Azure: a signal to an entity that does not exist, a
custom status over 16 KB. Most are thrown inside an asynchronous call that the out-of-process
shim awaits in a `try` that swallows every error ("Silently ignore exceptions thrown by user
code", `Listener/OutOfProcOrchestrationShim.cs`): nothing is scheduled and the instance stays
Running forever (azure-functions-durable-python#132). The emulator fails the orchestration in
both cases, with a reason that says which, so that no such mistake passes here unseen; and it
never hands the orchestrator an error it could catch, since Azure would not.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from emulator.contracts import FunctionRegistry
from emulator.decisions import Decision
from emulator.entities import split_target
from emulator.history import TERMINAL_STATUSES
from emulator.instance_ids import MAX_INSTANCE_ID_LENGTH, has_forbidden_characters

# Azure Storage's longest durable delay (`AzureStorageDurabilityProvider.MaximumDelayTime`)
MAXIMUM_DELAY = timedelta(days=6)
# `DurableOrchestrationContext.SetCustomStatus`: `MaxCustomStatusPayloadSizeInKB`
MAX_CUSTOM_STATUS_KB = 16
# the reserved name of `call_http`'s activity, which needs no function of the app
HTTP_ACTIVITY = "BuiltIn::HttpActivity"

_HANGS = (
    "On Azure the extension throws this inside the call, the out-of-process shim swallows it, "
    "nothing is scheduled and the instance stays Running forever "
    "(azure-functions-durable-python#132). The emulator fails the orchestration instead, so "
    "that the mistake shows."
)


class RuleBroken(Exception):
    """The orchestration fails; the message is its whole failure reason."""


def custom_status_problem(custom_status: Any) -> str | None:
    """The extension's error for a custom status whose JSON is over 16 KB in UTF-16
    (`MessagePayloadDataConverter.Serialize` with `maxSizeInKB`), or None."""
    if custom_status is None:
        return None
    compact = json.dumps(custom_status, separators=(",", ":"), ensure_ascii=False)
    size_kb = len(compact.encode("utf-16-le")) // 1024
    if size_kb <= MAX_CUSTOM_STATUS_KB:
        return None
    return (
        "The UTF-16 size of the JSON-serialized payload must not exceed "
        f"{MAX_CUSTOM_STATUS_KB} KB. The current payload size is {size_kb:,} KB."
    )


@dataclass
class SchedulingRules:
    """Checks one orchestration's calls as the extension's `CallDurableTaskFunctionAsync` and
    `SignalEntity` do; each check raises RuleBroken."""

    functions: FunctionRegistry
    orchestration: str
    instance_id: str
    parent_instance_id: str | None
    # the runtime status of an existing instance id, or None when there is none
    instance_status: Callable[[str], str | None]
    # the version a sub-orchestration gets when the call names none (versioning.py)
    default_version: str = ""

    def fails_on_azure(self, error: str) -> RuleBroken:
        return RuleBroken(f"Orchestrator function '{self.orchestration}' failed: {error}")

    def hangs_on_azure(self, problem: str) -> RuleBroken:
        return RuleBroken(
            f"Orchestrator function '{self.orchestration}' failed in the emulator: {problem} "
            + _HANGS
        )

    # --- at the call, as the extension checks it ------------------------------------------

    def custom_status(self, value: Any) -> None:
        problem = custom_status_problem(value)
        if problem is not None:
            raise self.fails_on_azure(problem)

    def activity(self, name: str) -> None:
        if name != HTTP_ACTIVITY and self.functions.activity(name) is None:
            raise self.hangs_on_azure(self.functions.missing(name, "activity"))

    def sub_orchestration(self, name: str, child_id: str) -> None:
        if self.functions.orchestrator(name) is None:
            raise self.hangs_on_azure(self.functions.missing(name, "orchestrator"))
        own = {self.instance_id.lower(), (self.parent_instance_id or "").lower()}
        if child_id.lower() in own:
            raise self.hangs_on_azure(
                f"The sub-orchestration '{name}' was given the instance ID '{child_id}': the "
                "instance ID of a sub-orchestration must be different than the instance ID of "
                "a parent orchestration."
            )
        if child_id.startswith("@"):
            raise self.hangs_on_azure(
                f"The sub-orchestration '{name}' was given the instance ID '{child_id}': "
                "orchestration instance ids must not start with @."
            )
        if len(child_id) > MAX_INSTANCE_ID_LENGTH or has_forbidden_characters(child_id):
            raise RuleBroken(
                f"Orchestrator function '{self.orchestration}' failed in the emulator: the "
                f"sub-orchestration instance ID {child_id!r} holds /, \\, #, ?, a control "
                "character or more than 256 characters. Azure accepts it for a sub-orchestration, "
                "but no client could then start, query or manage it by that ID; the emulator "
                "refuses it."
            )

    def entity(self, target: str, signal: bool) -> None:
        name, _ = split_target(target)
        if self.functions.entity(name) is not None:
            return
        missing = self.functions.missing(name, "entity")
        # a signal throws synchronously, outside the shim's try: the orchestration fails
        raise self.fails_on_azure(missing) if signal else self.hangs_on_azure(missing)

    def retry(self, name: str, options: dict[str, Any]) -> None:
        for field in ("firstRetryIntervalInMilliseconds", "maxRetryIntervalInMilliseconds"):
            milliseconds = options.get(field)
            if milliseconds is None or timedelta(milliseconds=milliseconds) <= MAXIMUM_DELAY:
                continue
            raise self.hangs_on_azure(
                f"The retry options of the call to '{name}' have {field} = {milliseconds}, "
                f"over {MAXIMUM_DELAY.days} days: the Azure Storage provider supports a maximum "
                f"of {MAXIMUM_DELAY.days} days for time-based delays."
            )

    # --- once the episode's new work is known ---------------------------------------------

    def new_children(self, decisions: Iterable[Decision]) -> None:
        """A sub-orchestration may not take the id of an instance that has not finished."""
        claimed: set[str] = set()
        for decision in decisions:
            if decision.work.get("kind") != "sub":
                continue
            child_id = decision.work["instance_id"]
            status = "started in this episode" if child_id in claimed else None
            status = status or self.instance_status(child_id)
            claimed.add(child_id)
            if status is None or status in TERMINAL_STATUSES:
                continue
            raise RuleBroken(
                f"Orchestrator function '{self.orchestration}' failed in the emulator: the "
                f"sub-orchestration '{decision.name}' was given the instance ID '{child_id}', "
                f"whose instance is {status}. On Azure Storage sub-orchestration starts are not "
                "de-duplicated: a new execution would silently start over the live one "
                "(DurableTask.AzureStorage OrchestrationSessionManager), and what the parent "
                "then receives is undefined. The emulator fails the orchestration instead."
            )
