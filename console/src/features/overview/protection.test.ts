import { describe, expect, it } from "vitest";

import { protection } from "./protection";

const base = {
  database_id: "db", name: "db", display_name: null, server_id: "s", enabled: true, policy_id: "p",
  last_success_at: "2026-01-01T00:00:00Z", last_status: "succeeded", last_error: null, age_hours: 2,
  allowed_hours: 25, stale: false, next_slot: null, last_24h: { succeeded: 1, failed: 0 },
  last_7d: { succeeded: 1, failed: 0 }, backups: 1, stored_bytes: 10,
  freshness: null, stale_since: null, stale_reason: null, last_drill: null,
};

describe("protection", () => {
  it("puts the most pressing state first", () => {
    expect(protection(base).label).toBe("protected");
    expect(protection({ ...base, stale: true }).label).toBe("stale");
    expect(protection({ ...base, stale: true, last_success_at: null }).label).toBe("never backed up");
    expect(protection({ ...base, last_status: "failed" }).label).toBe("last run failed");
    expect(protection({ ...base, enabled: false, stale: true }).label).toBe("disabled");
    expect(protection({ ...base, last_status: "running" }).label).toBe("backing up");
    expect(protection({ ...base, policy_id: null }).label).toBe("no schedule");
  });
});
