"""Orchestration versions, as the extension bundle this app pins honours them.

`host.json` asks for `Microsoft.Azure.Functions.ExtensionBundle` `[4.*, 5.0.0)`, which Azure
resolves to the newest 4.x bundle; from 4.26 on, that bundle's Durable extension (3.1 and later)
honours orchestration versioning:
- a new instance gets the version it is started with (`?version=` on a start, `version` on a
  sub-orchestration), else `host.json` `extensions.durableTask.defaultVersion`; continue-as-new
  and restart keep it;
- the worker runs an instance only if its version matches the worker's (its `defaultVersion`)
  under `versionMatchStrategy`: `None`, `Strict` (equal), or `CurrentOrOlder` (the default: not
  newer); otherwise `versionFailureStrategy` `Reject` (the default) abandons the work item to be
  retried forever, `Fail` fails the orchestration (durabletask `TaskOrchestrationDispatcher.cs`,
  `VersioningSettings.cs`).
The 2.x extension (bundles before 4.26) ignored all of it; this emulator follows the pinned range.
"""

from __future__ import annotations

from dataclasses import dataclass

MATCH_STRATEGIES = ("None", "Strict", "CurrentOrOlder")
FAILURE_STRATEGIES = ("Reject", "Fail")
# DTFx's reason when the Fail strategy fails an instance (`FailureDetails` "VersionMismatch")
VERSION_MISMATCH = "Orchestration version did not comply with Worker Versioning"


def _dotted(version: str) -> tuple[int, ...] | None:
    """The components of a .NET `System.Version` (two to four whole numbers), or None."""
    parts = version.split(".")
    if not 2 <= len(parts) <= 4 or not all(p.isdigit() for p in parts):
        return None
    # an absent build or revision is -1 in .NET, so 1.0 sorts before 1.0.0
    return tuple(int(p) for p in parts) + (-1,) * (4 - len(parts))


def compare_versions(source: str | None, other: str | None) -> int:
    """`VersioningSettings.CompareVersions`: negative, zero or positive."""
    source, other = (source or "").strip(), (other or "").strip()
    if not source and not other:
        return 0
    if not source:
        return -1
    if not other:
        return 1
    left, right = _dotted(source), _dotted(other)
    if left is not None and right is not None:
        return (left > right) - (left < right)
    upper_left, upper_right = source.upper(), other.upper()
    return (upper_left > upper_right) - (upper_left < upper_right)


@dataclass(frozen=True)
class Versioning:
    default_version: str = ""
    match_strategy: str = "CurrentOrOlder"
    failure_strategy: str = "Reject"

    def version_of_new(self, requested: str | None) -> str:
        return requested or self.default_version

    def refusal(self, orchestration: str, version: str | None) -> tuple[str, str] | None:
        """(failure reason, error type) when this worker would not run the instance."""
        if self.match_strategy == "Strict":
            refused = (version or "") != self.default_version
        elif self.match_strategy == "CurrentOrOlder":
            refused = compare_versions(version, self.default_version) > 0
        else:
            refused = False
        if not refused:
            return None
        if self.failure_strategy == "Fail":
            return VERSION_MISMATCH, "VersionMismatch"
        return (
            f"Orchestrator function '{orchestration}' failed in the emulator: its version "
            f"{version or ''!r} does not match this app's defaultVersion "
            f"{self.default_version!r} under versionMatchStrategy {self.match_strategy}. On "
            "Azure the work item would be abandoned and retried forever "
            "(versionFailureStrategy Reject): the instance would never run. The emulator "
            "fails it instead, so that the mismatch shows.",
            "VersionMismatch",
        )
