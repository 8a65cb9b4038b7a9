"""The few DTFx task semantics the action replay needs: a task completes once and runs its
continuations synchronously; WhenAll waits for every child; WhenAny completes with the first."""

from __future__ import annotations

from collections.abc import Callable


class Task:
    """A DTFx task: completes once, runs its continuations synchronously."""

    __slots__ = ("_then", "done", "failed")

    def __init__(self, done: bool = False, failed: bool = False) -> None:
        self.done = done
        self.failed = failed
        self._then: list[Callable[[], None]] = []

    def then(self, callback: Callable[[], None]) -> None:
        if self.done:
            callback()
        else:
            self._then.append(callback)

    def finish(self, failed: bool = False) -> None:
        if self.done:
            return
        self.done, self.failed = True, failed
        callbacks, self._then = self._then, []
        for callback in callbacks:
            callback()


def all_of(tasks: list[Task]) -> Task:
    """Task.WhenAll: completes when every child has (a failure does not cut it short)."""
    outer = Task()
    remaining = [len(tasks)]

    def one_done() -> None:
        remaining[0] -= 1
        if remaining[0] == 0:
            outer.finish(failed=any(t.failed for t in tasks))

    if not tasks:
        outer.finish()
    for task in tasks:
        task.then(one_done)
    return outer


def any_of(tasks: list[Task]) -> Task:
    """Task.WhenAny: completes (successfully) with the first child."""
    outer = Task()
    for task in tasks:
        task.then(outer.finish)
    return outer
