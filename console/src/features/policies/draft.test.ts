import { describe, expect, it } from "vitest";

import { draftFrom, previewBody, saveBody } from "./draft";

describe("policy drafts", () => {
  it("round-trips a policy into the API's body, a tier switched off becoming null", () => {
    const draft = draftFrom({
      id: "p", name: "P", description: "", timezone: "Europe/Madrid",
      daily: { enabled: true, keep_count: 7, time: "02:30" },
      weekly: { enabled: true, keep_count: 4, weekday: "friday", time: "03:00" },
      hourly: null, monthly: null, yearly: null, created_at: null, updated_at: null,
      immutable_tiers: [], access_tiers: {}, encryption_recipients: [], drill: null,
    });
    draft.tiers.hourly.on = true;
    draft.tiers.hourly.every_hours = "6";
    draft.tiers.weekly.on = false;
    const body = saveBody(draft, false);
    expect(body).toMatchObject({
      name: "P", timezone: "Europe/Madrid",
      daily: { enabled: true, keep_count: 7, time: "02:30" },
      hourly: { enabled: true, keep_count: 24, every_hours: 6, minute: 0 },
      weekly: null, monthly: null, yearly: null,
    });
    expect(body).not.toHaveProperty("id");
    expect(previewBody(draft)).toMatchObject({ timezone: "Europe/Madrid", count: 8 });
  });

  it("sends what was typed when it is not a number, so the API names the field", () => {
    const draft = draftFrom();
    draft.tiers.monthly.on = true;
    draft.tiers.monthly.day = "thirty";
    expect(saveBody(draft, true).monthly).toMatchObject({ day: "thirty" });
  });

  it("sends an id only for a new policy, and only when one was typed", () => {
    const draft = draftFrom();
    draft.name = "Nightly";
    expect(saveBody(draft, true)).not.toHaveProperty("id");
    draft.id = "nightly";
    expect(saveBody(draft, true)).toHaveProperty("id", "nightly");
  });
});
