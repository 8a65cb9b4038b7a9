import { describe, expect, it } from "vitest";

import { timelinePoints } from "./RetentionTimeline";

describe("retention timeline", () => {
  it("puts kept backups on the upper lane and deleted ones below, by time", () => {
    const { kept, deleted } = timelinePoints([
      { backup_id: "a", action: "keep", rule: "kept: daily 1 of 7", status: "succeeded", tiers: ["daily"], created_at: "2026-01-02T02:00:00Z" },
      { backup_id: "b", action: "delete", rule: "deleted: beyond daily 7", status: "succeeded", tiers: ["daily"], created_at: "2026-01-01T02:00:00Z" },
      { backup_id: "c", action: "keep", rule: "kept", status: "running", tiers: [], created_at: null },
    ]);
    expect(kept).toEqual([{ time: Date.parse("2026-01-02T02:00:00Z"), lane: 1, rule: "kept: daily 1 of 7", backupId: "a" }]);
    expect(deleted.map((point) => [point.backupId, point.lane])).toEqual([["b", 0]]);
  });
});
