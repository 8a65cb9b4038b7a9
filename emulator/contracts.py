"""The seam between the emulator's two halves.

The *host* half (app loading, HTTP front, timer triggers, the durable client's HTTP
endpoints) turns the user's FunctionApp into a `FunctionRegistry` of plain async invokers
and calls the *runtime* half (`DurableRuntime`: store, orchestration replay, activities,
entities, durable timers) through the methods of `RuntimeApi`.

Payloads cross this seam in the wire encodings of the Durable Functions 1.x protocol
(see durable-protocol.md): JSON *text* where the real extension passes JSON text.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

# context JSON (protocol 2.1) -> OrchestratorState JSON (2.3); raises on failure (2.4).
OrchestratorInvoker = Callable[[str], Awaitable[str]]
# activity input JSON text -> df_dumps(result) JSON text; raises on failure.
ActivityInvoker = Callable[[str], Awaitable[str]]
# entity batch JSON (3.1) -> result JSON (3.2).
EntityInvoker = Callable[[str], Awaitable[str]]


_KINDS = {"orchestrator": "orchestrators", "activity": "activities", "entity": "entities"}


@dataclass
class FunctionRegistry:
    """The app's durable functions by name. Names are looked up case-insensitively, like the
    extension's `FunctionName` (OrdinalIgnoreCase)."""

    orchestrators: dict[str, OrchestratorInvoker] = field(default_factory=dict)
    activities: dict[str, ActivityInvoker] = field(default_factory=dict)
    # keys are lower-cased entity names
    entities: dict[str, EntityInvoker] = field(default_factory=dict)

    def orchestrator(self, name: str) -> OrchestratorInvoker | None:
        return _find(self.orchestrators, name)

    def activity(self, name: str) -> ActivityInvoker | None:
        return _find(self.activities, name)

    def entity(self, name: str) -> EntityInvoker | None:
        return _find(self.entities, name)

    def missing(self, name: str, kind: str) -> str:
        """The extension's message for a function of this kind that does not exist or is
        disabled, with the known ones (`DurableTaskExtension.GetInvalid*FunctionMessage`)."""
        known: dict[str, Any] = getattr(self, _KINDS[kind])
        return missing_function(name, kind, list(known))


def _find(table: dict[str, Any], name: str) -> Any:
    found = table.get(name)
    if found is None:
        wanted = name.lower()
        found = next((value for key, value in table.items() if key.lower() == wanted), None)
    return found


def missing_function(name: str, kind: str, known: list[str] | None = None) -> str:
    """The extension's message for an unknown (or disabled) function of a kind."""
    message = f"The function '{name}' doesn't exist, is disabled, or is not an {kind} function."
    if known is None:
        return message
    if not known:
        return f"{message} Additional info: No {kind} functions are currently registered!"
    listed = "', '".join(known)
    return f"{message} Additional info: The following are the known {kind} functions: '{listed}'."


@dataclass
class Page:
    """One page of a list the HTTP API answers with `x-ms-continuation-token` (paging.py)."""

    items: list[dict[str, Any]]
    continuation: str | None  # None on the last page


class RuntimeError_(Exception):
    """Base of the errors the runtime raises to the host; the host maps them to HTTP."""


class InstanceNotFound(RuntimeError_):
    pass


class InstanceGone(RuntimeError_):
    """The instance is in a state where the operation no longer applies (HTTP 410)."""


class InvalidRequest(RuntimeError_):
    """The extension's `ArgumentException`: a bad instance id, an unknown function name
    (HTTP 400; `summary` is the HttpError's `Message`, the text its `ExceptionMessage`)."""

    def __init__(
        self, message: str, summary: str = "One or more of the arguments submitted is incorrect"
    ) -> None:
        super().__init__(message)
        self.summary = summary


class InvalidOperation(RuntimeError_):
    """The extension's `InvalidOperationException`, which its HTTP API does not catch: a
    500 with an HttpError body (`HttpApiHandler.HandleRequestAsync`), so the Python client
    raises as it does on Azure. Resume of an instance that is not suspended, for example."""

    exception_type = "System.InvalidOperationException"


class InstanceAlreadyExists(InvalidOperation):
    """Start over an instance that has not finished (`OrchestrationAlreadyExistsException`)."""

    exception_type = "DurableTask.Core.Exceptions.OrchestrationAlreadyExistsException"


class NotSupported(RuntimeError_):
    pass


class Refused(RuntimeError_):
    """Work Azure accepts but whose effects nobody would see (an instance silently deleted
    while it runs, a parent left waiting forever): the emulator refuses it loudly, HTTP 412
    with the reason, so client code raises here where it would break unseen on Azure."""


class RuntimeApi(Protocol):
    """What the host half calls. Every method is safe to call from the aiohttp loop."""

    async def start_new(
        self,
        name: str,
        instance_id: str | None,
        input_text: str | None,
        version: str | None = None,
    ) -> str:
        """Creates (or re-creates, when the old one finished) an instance; returns its id.
        `input_text` is the orchestration input as JSON text (None for no input)."""
        ...

    async def get_status(
        self,
        instance_id: str,
        show_history: bool = False,
        show_history_output: bool = False,
        show_input: bool = True,
    ) -> dict[str, Any] | None:
        """The StatusResponsePayload dict (historyEvents reshaped like the real client
        API when show_history), or None when the instance does not exist."""
        ...

    async def query_page(
        self,
        created_from: datetime | None = None,
        created_to: datetime | None = None,
        statuses: list[str] | None = None,
        prefix: str | None = None,
        show_input: bool = True,
        top: int | None = None,
        continuation: str | None = None,
    ) -> Page:
        """One page of status payloads, as Azure Storage pages them (paging.py)."""
        ...

    async def raise_event(self, instance_id: str, name: str, data_text: str | None) -> None:
        """`data_text` is the request body as received (JSON text), stored as EventRaised.Input."""
        ...

    async def terminate(self, instance_id: str, reason: str | None) -> None: ...

    async def suspend(self, instance_id: str, reason: str | None) -> None: ...

    async def resume(self, instance_id: str, reason: str | None) -> None: ...

    async def rewind(self, instance_id: str, reason: str | None) -> None: ...

    async def restart(self, instance_id: str, new_instance_id: bool) -> str: ...

    async def purge(self, instance_id: str) -> int: ...

    async def purge_by(
        self,
        created_from: datetime,
        created_to: datetime | None,
        statuses: list[str] | None,
    ) -> int: ...

    async def signal_entity(
        self, name: str, key: str, operation: str, input_text: str | None
    ) -> None: ...

    async def read_entity(self, name: str, key: str) -> tuple[bool, str | None]:
        """(exists, state as JSON text)."""
        ...

    async def list_entities_page(
        self,
        name: str | None,
        fetch_state: bool,
        top: int | None = None,
        continuation: str | None = None,
    ) -> Page: ...
