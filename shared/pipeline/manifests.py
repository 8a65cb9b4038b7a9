"""Compares a dump-time manifest with the tables a restore produced."""

from __future__ import annotations

from shared.models import DumpManifest, TableManifest
from shared.pipeline.results import TableDifference


def _key(table: TableManifest, database: str) -> str:
    # MySQL manifests name the database as the schema; a restore target has another name.
    schema = table.schema_name if table.schema_name not in (None, database) else None
    return f"{schema}.{table.name}" if schema else table.name


def _rows(manifest: DumpManifest) -> dict[str, int]:
    return {_key(table, manifest.database): table.rows for table in manifest.tables}


def compare_manifests(expected: DumpManifest, actual: DumpManifest) -> list[TableDifference]:
    """One difference per table missing, extra, or with another row count."""
    want, got = _rows(expected), _rows(actual)
    return [
        TableDifference(table=name, expected_rows=want.get(name), actual_rows=got.get(name))
        for name in sorted(want.keys() | got.keys())
        if want.get(name) != got.get(name)
    ]
