import { describe, expect, it } from "vitest";

import { draftFrom, previewBody, recipientList, saveBody } from "./draft";

describe("policy drafts", () => {
  it("round-trips a policy into the API's body, a tier switched off becoming null", () => {
    const draft = draftFrom({
      id: "p", name: "P", description: "", timezone: "Europe/Madrid",
      daily: { enabled: true, keep_count: 7, time: "02:30" },
      weekly: { enabled: true, keep_count: 4, weekday: "friday", time: "03:00" },
      hourly: null, monthly: null, yearly: null, created_at: null, updated_at: null,
      immutable_tiers: ["yearly"], access_tiers: { yearly: "archive" }, encryption_recipients: ["age1one"],
      drill: null,
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
    expect(body).toMatchObject({
      immutable_tiers: ["yearly"], access_tiers: { yearly: "archive" }, encryption_recipients: ["age1one"],
    });
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

  it("starts a new policy with the API's protection defaults", () => {
    const body = saveBody(draftFrom(), true);
    expect(body).toMatchObject({
      immutable_tiers: ["monthly", "yearly"],
      access_tiers: { monthly: "cool", yearly: "cold" },
      encryption_recipients: [],
    });
  });

  it("sends the tiers and recipients as edited, hot left out", () => {
    const draft = draftFrom();
    draft.immutable.monthly = false;
    draft.immutable.daily = true;
    draft.access.monthly = "hot";
    draft.access.weekly = "cool";
    draft.recipients = " age1first \n\nage1second, age1third\n";
    expect(saveBody(draft, false)).toMatchObject({
      immutable_tiers: ["daily", "yearly"],
      access_tiers: { weekly: "cool", yearly: "cold" },
      encryption_recipients: ["age1first", "age1second", "age1third"],
    });
    expect(recipientList("ssh-ed25519 AAAA")).toEqual(["ssh-ed25519 AAAA"]);
  });
});
