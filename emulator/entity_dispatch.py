"""Entity batches: per-entity FIFO, one batch at a time, state and answers committed together."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from emulator import entities
from emulator.clock import Clock
from emulator.contracts import FunctionRegistry
from emulator.history import EventType, event, iso
from emulator.store import Store
from emulator.work import PostCommit, Work

log = logging.getLogger("emulator")

_ENTITY_BATCH_LIMIT = 100


class EntityBatches:
    def __init__(self, store: Store, registry: FunctionRegistry, clock: Clock, work: Work) -> None:
        self._store = store
        self._registry = registry
        self._clock = clock
        self._work = work

    async def run(self, target: str) -> bool:
        """Runs one batch; True when it hit the batch limit (the dispatcher runs it again)."""
        store = self._store
        messages = store.inbox(target, limit=_ENTITY_BATCH_LIMIT)
        if not messages:
            return False
        name, key = entities.split_target(target)
        exists, state = store.get_entity(target) or (False, None)
        requests = [m.body for m in messages]
        log.info("entity %s started a batch of %d operation(s)", target, len(requests))
        result = await self._invoke_entity(name, key, exists, state, requests)
        now = self._clock.now()
        post: PostCommit = []
        with store.transaction():
            store.put_entity(target, name, key, result.exists, result.state, iso(now))
            store.delete_messages(m.id for m in messages)
            for request, answer in zip(requests, result.results, strict=False):
                self._answer_entity_call(request, answer, now, post)
        for action in post:
            action()
        for request, answer in zip(requests, result.results, strict=False):
            if answer.get("isError"):
                log.warning(
                    "entity %s operation %s failed: %s",
                    target,
                    request.get("op"),
                    answer.get("result"),
                )
        log.info("entity %s finished its batch", target)
        self._work.notify_changed()
        return len(messages) == _ENTITY_BATCH_LIMIT

    async def _invoke_entity(
        self,
        name: str,
        key: str,
        exists: bool,
        state: str | None,
        requests: list[dict[str, Any]],
    ) -> entities.BatchResult:
        invoker = self._registry.entity(name)
        if invoker is None:
            message = self._registry.missing(name, "entity")
            return entities.failed_batch(len(requests), exists, state, message)
        try:
            text = await invoker(entities.build_batch(name, key, exists, state, requests))
            return entities.parse_result(text, len(requests), exists, state)
        except Exception as exc:
            message = str(exc) or type(exc).__name__
            return entities.failed_batch(len(requests), exists, state, message)

    def _answer_entity_call(
        self,
        request: dict[str, Any],
        answer: dict[str, Any],
        now: datetime,
        post: PostCommit,
    ) -> None:
        parent = request.get("parent")
        if request.get("signal") or not parent:
            return
        response = event(
            EventType.EventRaised,
            now,
            Name=request.get("id"),
            Input=entities.response_input(answer),
        )
        self._store.send(parent, response, request.get("parentExecution"))
        self._work.ready_soon(parent, post)
