import { describe, expect, it } from "vitest";

import type { components } from "@/types/api";

import { encryption, protections, readingHint } from "./protection";

type BackupRecord = components["schemas"]["BackupRecord"];

const base = {
  id: "b1", database_id: "shop", server_id: "pg", status: "succeeded", tiers: ["monthly"],
  trigger: "schedule", legal_hold: false, immutable_until: null, encryption: "age",
  identity_id: "k1", extra_recipients: [],
} as unknown as BackupRecord;
const now = new Date("2026-01-01T00:00:00Z");

describe("backup protection", () => {
  it("names every reason the API would refuse a deletion", () => {
    expect(protections(base, now)).toEqual([]);
    const held = { ...base, legal_hold: true, immutable_until: "2026-06-01T00:00:00Z" };
    const reasons = protections(held, now);
    expect(reasons).toHaveLength(2);
    expect(reasons[0]).toContain("legal hold");
    expect(reasons[1]).toMatch(/^immutable until .*2026/);
  });

  it("forgets an immutability that has expired", () => {
    expect(protections({ ...base, immutable_until: "2025-12-31T23:59:00Z" }, now)).toEqual([]);
  });

  it("says how a backup is encrypted and to how many other keys", () => {
    expect(encryption(base)).toBe("age, key k1");
    expect(encryption({ ...base, extra_recipients: ["age1a", "age1b"] })).toBe("age, key k1 and 2 other keys");
    expect(encryption({ ...base, encryption: null, identity_id: null })).toBe("not encrypted");
  });

  it("gives the command that reads a download", () => {
    expect(readingHint("pg/shop/b1.sql.zst.age", true)).toBe("age -d -i key.txt b1.sql.zst.age | zstd -d > b1.sql");
    expect(readingHint("pg/shop/b1.sql.zst", false)).toBe("zstd -d b1.sql.zst -o b1.sql");
  });
});
