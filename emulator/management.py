"""The `RuntimeApi` methods the host calls: start, status, query, events, management, entities.

Validation and status codes follow protocol section 4.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime
from typing import Any

from emulator import entities, instance_ids, paging
from emulator.clock import Clock
from emulator.contracts import (
    FunctionRegistry,
    InstanceGone,
    InstanceNotFound,
    InvalidOperation,
    InvalidRequest,
    NotSupported,
    Page,
    Refused,
)
from emulator.history import (
    TERMINAL_STATUSES,
    EventType,
    event,
    iso,
    iso_seconds,
    json_value,
    parse_time,
    reshape_history,
)
from emulator.instances import Instances
from emulator.store import Instance, Store
from emulator.versioning import Versioning
from emulator.work import Work

log = logging.getLogger("emulator")


class Management:
    def __init__(
        self,
        store: Store,
        registry: FunctionRegistry,
        clock: Clock,
        work: Work,
        instances: Instances,
        versioning: Versioning,
    ) -> None:
        self._store = store
        self._registry = registry
        self._clock = clock
        self._work = work
        self._instances = instances
        self._versioning = versioning

    async def start_new(
        self,
        name: str,
        instance_id: str | None,
        input_text: str | None,
        version: str | None = None,
    ) -> str:
        if self._registry.orchestrator(name) is None:
            raise InvalidRequest(self._registry.missing(name, "orchestrator"))
        instance_id = instance_id or instance_ids.new_instance_id()
        instance_ids.validate_instance_id(instance_id)
        version = self._versioning.version_of_new(version)
        now = self._clock.now()
        with self._store.transaction():
            existing = self._store.get_instance(instance_id)
            instance_ids.ensure_replaceable(existing.status if existing else None)
            self._instances.create(instance_id, name, version, input_text, None, now)
        self._work.mark_ready(instance_id)
        self._work.notify_changed()
        return instance_id

    async def get_status(
        self,
        instance_id: str,
        show_history: bool = False,
        show_history_output: bool = False,
        show_input: bool = True,
    ) -> dict[str, Any] | None:
        instance = self._store.get_instance(instance_id)
        if instance is None:
            return None
        status = _status_payload(instance, show_input)
        if show_history:
            events = self._store.load_history(instance_id)
            status["historyEvents"] = reshape_history(events, show_history_output)
        return status

    async def query(
        self,
        created_from: datetime | None = None,
        created_to: datetime | None = None,
        statuses: list[str] | None = None,
        prefix: str | None = None,
        show_input: bool = True,
    ) -> list[dict[str, Any]]:
        """Every match at once: for tests and tools, not an API of Azure's (see query_page)."""
        return [
            _status_payload(instance, show_input)
            for instance in self._matching(created_from, created_to, statuses, prefix)
        ]

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
        """One page as Azure Storage answers it (paging.py): the matches among the next
        `top` instances in instance-id order, and a token while more follow."""
        size = paging.page_size(top)
        scanned = self._store.scan_instances(prefix, paging.key_after(continuation), size + 1)
        window = scanned[:size]
        found = _filtered(window, created_from, created_to, statuses)
        more = len(scanned) > size
        token = paging.continuation_after(window[-1].instance_id) if more else None
        return Page([_status_payload(i, show_input) for i in found], token)

    def _matching(
        self,
        created_from: datetime | None,
        created_to: datetime | None,
        statuses: list[str] | None,
        prefix: str | None,
    ) -> list[Instance]:
        found = self._store.query_instances(
            iso(created_from) if created_from else None,
            iso(created_to) if created_to else None,
            prefix,
        )
        return _filtered(found, None, None, statuses)

    async def raise_event(self, instance_id: str, name: str, data_text: str | None) -> None:
        self._send_control(instance_id, EventType.EventRaised, Name=name, Input=data_text)

    async def terminate(self, instance_id: str, reason: str | None) -> None:
        self._send_control(instance_id, EventType.ExecutionTerminated, Input=reason)

    async def suspend(self, instance_id: str, reason: str | None) -> None:
        """Like `DurableClient.SuspendAsync`: only a Running, Pending or ContinuedAsNew
        instance can be suspended; otherwise InvalidOperationException (HTTP 500)."""
        instance = self._running_instance(instance_id)
        if instance.status not in _SUSPENDABLE:
            raise _cannot("suspend", instance)
        self._send_control(instance_id, EventType.ExecutionSuspended, Reason=reason)

    async def resume(self, instance_id: str, reason: str | None) -> None:
        """Like `DurableClient.ResumeAsync`: only a Suspended instance can be resumed."""
        instance = self._running_instance(instance_id)
        if instance.status != "Suspended":
            raise _cannot("resume", instance)
        self._send_control(instance_id, EventType.ExecutionResumed, Reason=reason)

    async def rewind(self, instance_id: str, reason: str | None) -> None:
        """`HttpApiHandler.HandleRewindInstanceRequestAsync`: 404, 410 once Completed,
        Terminated or Canceled, InvalidOperationException (500) unless Failed."""
        instance = self._store.get_instance(instance_id)
        if instance is None:
            raise InstanceNotFound(instance_id)
        if instance.status in _REWIND_GONE:
            raise InstanceGone(f"The instance '{instance_id}' is {instance.status}.")
        if instance.status != "Failed":
            raise InvalidOperation(
                "The rewind operation is only supported on failed orchestration instances."
            )
        raise NotSupported("Rewind is not supported by this emulator.")

    async def restart(self, instance_id: str, new_instance_id: bool) -> str:
        """`HandleRestartInstanceRequestAsync`: an unknown id (or orchestrator) is an
        ArgumentException, answered 400; a restart over a live id is a 500."""
        instance = self._store.get_instance(instance_id)
        if instance is None:
            raise InvalidRequest(
                f"An orchestrastion with the instanceId {instance_id} was not found.",  # sic
                summary=_NOT_AN_INSTANCE,
            )
        target = instance_ids.new_instance_id() if new_instance_id else instance_id
        try:
            return await self.start_new(instance.name, target, instance.input, instance.version)
        except InvalidRequest as exc:
            raise InvalidRequest(str(exc), summary=_NOT_AN_INSTANCE) from exc

    async def purge(self, instance_id: str) -> int:
        """Purges a finished instance. One that has not finished is refused: Azure Storage
        purges it (`AzureTableTrackingStore.PurgeInstanceHistoryAsync` checks no status;
        the extension's `HttpApiHandler.HandleDeleteHistoryByIdRequestAsync` answers 200)
        with effects nobody sees (`_PURGE_LIVE_REFUSED`)."""
        with self._store.transaction():
            instance = self._store.get_instance(instance_id)
            if instance is not None and instance.status not in TERMINAL_STATUSES:
                message = _PURGE_LIVE_REFUSED.format(
                    instance_id=instance_id, status=instance.status
                )
                log.warning("purge refused: %s", message)
                raise Refused(message)
            deleted = self._store.delete_instance(instance_id)
        self._instances.forget_history(instance_id)
        self._work.timers_changed.set()
        return deleted

    async def purge_by(
        self,
        created_from: datetime,
        created_to: datetime | None,
        statuses: list[str] | None,
    ) -> int:
        """Purges the instances created in the window (`createdTimeTo` defaults to now).

        Azure Storage keeps only the terminal statuses of the filter and, when none is left,
        purges everything in the window, running instances included
        (`AzureTableTrackingStore.PurgeInstanceHistoryAsync`). The emulator refuses a filter
        that names a status that is not terminal rather than copy that, and one without
        statuses whose window holds an unfinished instance, as it refuses to purge that
        instance by id."""
        live = [s for s in statuses or [] if s not in TERMINAL_STATUSES]
        if live:
            message = _PURGE_REFUSED.format(statuses=", ".join(live))
            log.warning("purge refused: %s", message)
            raise InvalidRequest(message, summary=message)
        created_to = created_to or self._clock.now()
        deleted = 0
        with self._store.transaction():
            matching = self._matching(created_from, created_to, statuses, None)
            running = [i for i in matching if i.status not in TERMINAL_STATUSES]
            if running:  # no status named: Azure purges these too, as a purge by id would
                first = running[0]
                message = _PURGE_LIVE_REFUSED.format(
                    instance_id=first.instance_id, status=first.status
                )
                message += f" ({len(running)} unfinished instance(s) in the window.)"
                log.warning("purge refused: %s", message)
                raise Refused(message)
            for instance in matching:
                deleted += self._store.delete_instance(instance.instance_id)
                self._instances.forget_history(instance.instance_id)
        self._work.timers_changed.set()
        return deleted

    async def signal_entity(
        self, name: str, key: str, operation: str, input_text: str | None
    ) -> None:
        """`DurableClient.SignalEntityAsync`: an entity the app does not have (or has
        disabled) is an ArgumentException, answered 400."""
        target = entities.entity_target(name, key)
        if self._registry.entity(name) is None:
            missing = self._registry.missing(name, "entity")
            raise InvalidRequest(missing, summary=missing)
        request = entities.client_request(operation, input_text, str(uuid.uuid4()))
        with self._store.transaction():
            self._store.send(target, request)
        self._work.mark_ready(target)

    async def read_entity(self, name: str, key: str) -> tuple[bool, str | None]:
        found = self._store.get_entity(entities.entity_target(name, key))
        if found is None or not found[0]:
            return False, None
        return True, found[1]

    async def list_entities(self, name: str | None, fetch_state: bool) -> list[dict[str, Any]]:
        """Every entity at once: for tests and tools (see list_entities_page)."""
        listed: list[dict[str, Any]] = []
        token = None
        while True:
            page = await self.list_entities_page(name, fetch_state, paging.MAX_PAGE_SIZE, token)
            listed += page.items
            token = page.continuation
            if token is None:
                return listed

    async def list_entities_page(
        self,
        name: str | None,
        fetch_state: bool,
        top: int | None = None,
        continuation: str | None = None,
    ) -> Page:
        """One page of existing entities, paged like instances (paging.py)."""
        size = paging.page_size(top)
        scanned = self._store.scan_entities(name, paging.key_after(continuation), size + 1)
        window = scanned[:size]
        listed = []
        for _, entity_name, key, exists, state, updated in window:
            if not exists:
                continue
            item: dict[str, Any] = {
                "entityId": {"name": entity_name, "key": key},
                "lastOperationTime": iso_seconds(parse_time(updated)),
            }
            if fetch_state:
                item["state"] = json_value(state)
            listed.append(item)
        more = len(scanned) > size
        return Page(listed, paging.continuation_after(window[-1][0]) if more else None)

    # --- helpers -------------------------------------------------------------------------

    def _running_instance(self, instance_id: str) -> Instance:
        instance = self._store.get_instance(instance_id)
        if instance is None:
            raise InstanceNotFound(f"No instance with ID '{instance_id}' was found.")
        if instance.status in TERMINAL_STATUSES:
            raise InstanceGone(
                f"The instance '{instance_id}' is {instance.status} and cannot accept the request."
            )
        return instance

    def _send_control(self, instance_id: str, kind: EventType, **fields: Any) -> None:
        """Queues a message for a live instance (404 when missing, 410 once finished)."""
        self._running_instance(instance_id)
        with self._store.transaction():
            self._store.send(instance_id, event(kind, self._clock.now(), **fields))
        self._work.mark_ready(instance_id)


_PURGE_REFUSED = (
    "The emulator does not purge by runtimeStatus {statuses}: on Azure Storage a purge keeps "
    "only Completed, Terminated, Canceled and Failed from the filter and, when none is left, "
    "purges every instance created in the time window, running ones included. Name terminal "
    "statuses only; terminate a running instance before purging it."
)
_PURGE_LIVE_REFUSED = (
    "The emulator does not purge the instance '{instance_id}': it is {status}. On Azure "
    "Storage the purge answers 200 and deletes its rows while it runs: what it was waiting "
    "for is then discarded on arrival, so a parent waiting on it waits forever and its own "
    "sub-orchestrations run on unwatched, and a Pending instance may still start from its "
    "queued start message. Terminate it, wait until it is Terminated, then purge it."
)
_SUSPENDABLE = frozenset({"Running", "Pending", "ContinuedAsNew"})
_REWIND_GONE = frozenset({"Completed", "Terminated", "Canceled"})
_NOT_AN_INSTANCE = "InstanceId does not match a valid orchestration instance."


def _cannot(operation: str, instance: Instance) -> InvalidOperation:
    return InvalidOperation(
        f"Cannot {operation} the orchestration instance {instance.instance_id} because "
        f"instance is in the {instance.status} state."
    )


def _filtered(
    found: list[Instance],
    created_from: datetime | None,
    created_to: datetime | None,
    statuses: list[str] | None,
) -> list[Instance]:
    low = iso(created_from) if created_from else None
    high = iso(created_to) if created_to else None
    wanted = {s.strip().lower() for s in statuses or [] if s.strip()}
    return [
        i
        for i in found
        if (low is None or i.created >= low)
        and (high is None or i.created <= high)
        and (not wanted or i.status.lower() in wanted)
    ]


def _status_payload(instance: Instance, show_input: bool) -> dict[str, Any]:
    return {
        "name": instance.name,
        "instanceId": instance.instance_id,
        "runtimeStatus": instance.status,
        "input": json_value(instance.input) if show_input else None,
        "customStatus": json_value(instance.custom_status),
        "output": json_value(instance.output),
        "createdTime": iso_seconds(parse_time(instance.created)),
        "lastUpdatedTime": iso_seconds(parse_time(instance.updated)),
    }
