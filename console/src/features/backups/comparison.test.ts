import { describe, expect, it } from "vitest";

import { compareTables, comparisonVerdict } from "./comparison";

const manifest = {
  engine: "postgresql" as const,
  database: "shop",
  server_version: "15",
  tool_version: "15",
  tables: [
    { schema_name: "public", name: "customers", rows: 120 },
    { schema_name: "sales", name: "orders", rows: 345 },
  ],
};

describe("restore comparison", () => {
  it("shows every manifest table as matching when there is no difference", () => {
    expect(compareTables(manifest, [])).toEqual([
      { table: "public.customers", expected: 120, restored: 120, same: true },
      { table: "sales.orders", expected: 345, restored: 345, same: true },
    ]);
  });

  it("shows differing, missing and extra tables", () => {
    const rows = compareTables(manifest, [
      { table: "sales.orders", expected_rows: 345, actual_rows: 340 },
      { table: "public.customers", expected_rows: 120, actual_rows: null },
      { table: "public.extra", expected_rows: null, actual_rows: 3 },
    ]);
    expect(rows).toEqual([
      { table: "public.customers", expected: 120, restored: null, same: false },
      { table: "public.extra", expected: null, restored: 3, same: false },
      { table: "sales.orders", expected: 345, restored: 340, same: false },
    ]);
  });

  it("names MySQL tables without the database as schema, like the restore does", () => {
    const mysql = { ...manifest, engine: "mariadb" as const, tables: [{ schema_name: "shop", name: "t", rows: 1 }] };
    expect(compareTables(mysql, [])[0].table).toBe("t");
  });
});

describe("restore verdict", () => {
  it("says not compared for a record without a manifest, never a pass", () => {
    expect(comparisonVerdict(null, { ok: true, comparison: "not_compared" })).toEqual({ status: "skipped", label: "not compared" });
    expect(comparisonVerdict(undefined, { ok: true })).toEqual({ status: "skipped", label: "not compared" });
    expect(comparisonVerdict(manifest, { ok: true, comparison: "matches" }).label).toBe("matches the manifest");
    expect(comparisonVerdict(manifest, { ok: false, comparison: "differs" }).label).toBe("differs");
  });
});
