// The restore's check drawn as a table: every table of the dump-time manifest with the rows
// expected and the rows found after the restore (the same unless a difference says so),
// plus any table the restore produced that the manifest did not list.
import type { components } from "@/types/api";
import type { TableDifference } from "@/types/jobs";

type Manifest = components["schemas"]["DumpManifest"];
type Table = Manifest["tables"][number];
type Difference = TableDifference;

export interface ComparisonRow {
  table: string;
  expected: number | null;
  restored: number | null;
  same: boolean;
}

/** A table's name as the restore compares it (MySQL manifests name the database as schema). */
export function tableKey(table: Table, database: string): string {
  const schema = table.schema_name && table.schema_name !== database ? table.schema_name : null;
  return schema ? `${schema}.${table.name}` : table.name;
}

export function compareTables(manifest: Manifest | null | undefined, differences: Difference[]): ComparisonRow[] {
  const byTable = new Map(differences.map((difference) => [difference.table, difference]));
  const rows: ComparisonRow[] = [];
  for (const table of manifest?.tables ?? []) {
    const key = tableKey(table, manifest?.database ?? "");
    const difference = byTable.get(key);
    byTable.delete(key);
    const restored = difference ? (difference.actual_rows ?? null) : table.rows;
    rows.push({ table: key, expected: table.rows, restored, same: restored === table.rows });
  }
  for (const difference of byTable.values()) {
    rows.push({ table: difference.table, expected: difference.expected_rows ?? null, restored: difference.actual_rows ?? null, same: false });
  }
  return rows.sort((a, b) => a.table.localeCompare(b.table));
}

/** The restore's verdict on the tables: a record without a manifest compared nothing, and
 * says so rather than showing a pass. */
export function comparisonVerdict(
  manifest: Manifest | null | undefined,
  output: { ok: boolean; comparison?: string | null },
): { status: "succeeded" | "failed" | "skipped"; label: string } {
  if (output.comparison === "not_compared" || !manifest) return { status: "skipped", label: "not compared" };
  return output.ok ? { status: "succeeded", label: "matches the manifest" } : { status: "failed", label: "differs" };
}
