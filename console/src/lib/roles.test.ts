import { describe, expect, it } from "vitest";

import { allows, roleFromClaim } from "./roles";

describe("roles", () => {
  it("reads the API's role claims and orders them", () => {
    expect(roleFromClaim("Backup.Operator")).toBe("operator");
    expect(roleFromClaim("Backup.Superuser")).toBeNull();
    expect(allows("admin", "operator")).toBe(true);
    expect(allows("operator", "admin")).toBe(false);
    expect(allows("reader", "reader")).toBe(true);
    expect(allows(null, "reader")).toBe(false);
  });
});
