"""Fixtures for pipeline tests: a blob store on a fresh Azurite container, and a fake
engine whose dump and restore tools are `fake_tool.py` (real processes, real pipes)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from azure.storage.blob import ExponentialRetry

from shared.engines.base import (
    Catalogue,
    ConnectionErrorKind,
    ConnectionSpec,
    EngineError,
    ToolCommand,
)
from shared.models import DumpManifest, Engine, TableManifest
from shared.pipeline.results import PipelineOptions
from shared.storage.blobs import AzureBlobStore

FAKE_TOOL = Path(__file__).with_name("fake_tool.py")
MARKER = b"-- fake dump complete"


@dataclass
class FakeEngine:
    """Implements DatabaseEngine with fake_tool.py; records what the pipeline asked of it."""

    dump_args: list[str] = field(default_factory=list)
    restore_args: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    tables: list[TableManifest] = field(default_factory=list)
    existing: set[str] = field(default_factory=set)
    non_empty: set[str] = field(default_factory=set)
    engine: Engine = Engine.POSTGRESQL
    completion_marker: bytes | None = MARKER

    def catalogue(self, spec: ConnectionSpec) -> Catalogue:
        return Catalogue(
            server_version="fake-server 1.0",
            tool_version="fake-tool 1.0",
            tables=[(t.schema_name, t.name) for t in self.tables],
        )

    def manifest(self, spec: ConnectionSpec) -> DumpManifest:
        return DumpManifest(
            engine=self.engine,
            database=spec.database,
            server_version="fake-server 1.0",
            tool_version="fake-tool 1.0",
            tables=self.tables,
        )

    @contextmanager
    def dump_command(self, spec: ConnectionSpec, workdir: Path) -> Iterator[ToolCommand]:
        argv = [sys.executable, str(FAKE_TOOL), "dump", *self.dump_args]
        yield ToolCommand(argv, dict(self.env), self.completion_marker, "fake-tool 1.0")

    def restored_manifest(self, spec: ConnectionSpec, tool_output: bytes | None) -> DumpManifest:
        return self.manifest(spec)

    @contextmanager
    def restore_command(self, spec: ConnectionSpec, workdir: Path) -> Iterator[ToolCommand]:
        argv = [sys.executable, str(FAKE_TOOL), "restore", *self.restore_args]
        yield ToolCommand(argv, dict(self.env), None, "fake-tool 1.0")

    def is_empty(self, spec: ConnectionSpec) -> bool:
        if spec.database not in self.existing:
            raise EngineError(ConnectionErrorKind.DATABASE_MISSING, "no such database")
        return spec.database not in self.non_empty

    def create_database(self, spec: ConnectionSpec) -> None:
        self.existing.add(spec.database)


@pytest.fixture
def blob_store(storage_connection_string: str, blob_container: str) -> AzureBlobStore:
    return AzureBlobStore.from_connection_string(
        storage_connection_string,
        blob_container,
        retry_policy=ExponentialRetry(initial_backoff=0, increment_base=1, retry_total=0),
    )


@pytest.fixture
def fake_spec() -> ConnectionSpec:
    return ConnectionSpec(
        engine=Engine.POSTGRESQL,
        host="127.0.0.1",
        port=5432,
        username="fake",
        password="s3cret-Pa55word",
        database="fakedb",
    )


@pytest.fixture
def small_blocks() -> PipelineOptions:
    """Options with 256 KiB blocks so that a few MB already make many blocks."""
    return PipelineOptions(block_size=256 * 1024, upload_concurrency=3, timeout_seconds=60)
