"""A dump's manifest (the catalogue's tables with the rows counted in the dump), and its
comparison with the tables a restore produced."""

from __future__ import annotations

from collections.abc import Mapping

from shared.engines.base import Catalogue, TableName
from shared.models import DumpManifest, Engine, TableManifest
from shared.pipeline.results import TableDifference
from shared.pipeline.row_counts import TableKey


def dump_manifest(
    engine: Engine, database: str, catalogue: Catalogue, counted: Mapping[TableKey, int]
) -> DumpManifest:
    """Every catalogue table with the rows its data block in the dump holds, 0 when it has
    none (a partitioned table, say). A data block for a table the catalogue does not list
    is listed too, after the others: the manifest describes what the dump holds."""
    rows = {_decoded(key, catalogue.encoding): count for key, count in counted.items()}
    return catalogue.manifest(engine, database, rows)


def _decoded(key: TableKey, encoding: str) -> TableName:
    schema, name = key
    decoded = None if schema is None else schema.decode(encoding, errors="replace")
    return decoded, name.decode(encoding, errors="replace")


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
