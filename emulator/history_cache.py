"""Histories of running instances kept in memory between episodes.

Each episode needs the past events twice: as dicts (for the action replay) and as their stored
JSON text (for the context JSON, which carries the stored `IsPlayed` flags as the extension's
does). Both are kept per instance, read from SQLite only after a restart or a new execution,
and extended with what each episode appends.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from emulator.history import Event
from emulator.store import Store


@dataclass
class CachedHistory:
    execution_id: str
    events: list[Event]
    texts: list[str]  # the events as stored, JSON, reused by every replay's context

    def extend(self, appended: list[Event]) -> None:
        self.events.extend(appended)
        self.texts.extend(json.dumps(e) for e in appended)


class HistoryCache:
    def __init__(self) -> None:
        self._entries: dict[str, CachedHistory] = {}

    def get(self, store: Store, instance_id: str, execution_id: str) -> CachedHistory:
        """The instance's current history, loaded from the store when not cached."""
        cached = self._entries.get(instance_id)
        if cached is None or cached.execution_id != execution_id:
            texts = store.load_history_texts(instance_id)
            events = json.loads("[" + ",".join(texts) + "]")
            cached = CachedHistory(execution_id, events, texts)
            self._entries[instance_id] = cached
        return cached

    def start(self, instance_id: str, execution_id: str) -> None:
        """A new execution (continue-as-new) whose history is empty."""
        self._entries[instance_id] = CachedHistory(execution_id, [], [])

    def forget(self, instance_id: str) -> None:
        self._entries.pop(instance_id, None)

    def clear(self) -> None:
        self._entries.clear()
