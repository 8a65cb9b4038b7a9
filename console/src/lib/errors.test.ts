import { describe, expect, it } from "vitest";

import { ApiError, describeError, fieldMessages, fieldUnder, toApiError } from "./errors";

describe("API errors", () => {
  it("maps 422 details to fields without their body/query prefix, first message wins", () => {
    const details = [
      { field: "body.daily.time", message: "time must be HH:MM (24-hour)", type: "value_error" },
      { field: "body.daily.time", message: "second", type: "x" },
      { field: "query.page_size", message: "too big" },
      { nonsense: true },
    ];
    expect(fieldMessages(details)).toEqual({ "daily.time": "time must be HH:MM (24-hour)", page_size: "too big" });
    expect(fieldMessages(null)).toEqual({});
  });

  it("reads the API's one error shape, and says something sensible otherwise", () => {
    const error = toApiError(409, { error: { code: "conflict", message: "the policy is in use", details: { used_by: [] } } });
    expect([error.status, error.code, error.message]).toEqual([409, "conflict", "the policy is in use"]);
    expect(toApiError(502, "<html>").message).toBe("the server answered 502");
  });

  it("tells people what 401, 403 and an unreachable service mean", () => {
    expect(describeError(new ApiError(401, "missing_token", "a bearer token is required"))).toMatch(/sign in/i);
    expect(describeError(new ApiError(403, "forbidden", "requires Backup.Admin"))).toContain("Backup.Admin");
    expect(describeError(new TypeError("Failed to fetch"))).toMatch(/could not be reached/);
  });

  it("finds the message of a field under a list or a map", () => {
    const fields = { encryption_recipients: "not an age X25519 recipient", "access_tiers.daily": "bad tier" };
    expect(fieldUnder(fields, "encryption_recipients")).toBe("not an age X25519 recipient");
    expect(fieldUnder(fields, "access_tiers")).toBe("daily: bad tier");
    expect(fieldUnder(fields, "immutable_tiers")).toBeUndefined();
  });
});
