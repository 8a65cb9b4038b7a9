"""Entity batches: per-entity FIFO, one batch at a time, state and answers committed together.

A mixin of `DurableRuntime`, like orchestration.py.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING, Any

from emulator import entities
from emulator.contracts import missing_function
from emulator.history import EventType, event, iso

if TYPE_CHECKING:
    from emulator.orchestration import PostCommit
    from emulator.runtime import DurableRuntime

log = logging.getLogger("emulator")

_ENTITY_BATCH_LIMIT = 100


class EntityMixin:
    async def _run_entity(self: DurableRuntime, target: str) -> bool:
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
        now = self.clock.now()
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
        self._notify_changed()
        return len(messages) == _ENTITY_BATCH_LIMIT

    async def _invoke_entity(
        self: DurableRuntime,
        name: str,
        key: str,
        exists: bool,
        state: str | None,
        requests: list[dict[str, Any]],
    ) -> entities.BatchResult:
        invoker = self.registry.entities.get(name)
        if invoker is None:
            message = missing_function(name, "entity")
            return entities.failed_batch(len(requests), exists, state, message)
        try:
            text = await invoker(entities.build_batch(name, key, exists, state, requests))
            return entities.parse_result(text, len(requests), exists, state)
        except Exception as exc:
            message = str(exc) or type(exc).__name__
            return entities.failed_batch(len(requests), exists, state, message)

    def _answer_entity_call(
        self: DurableRuntime,
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
        post.append(lambda: self._mark_ready(parent))
