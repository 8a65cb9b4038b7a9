import { describe, expect, it } from "vitest";

import type { components } from "@/types/api";

import { NEXT_STEP, passwordNeeded, TLS_MODES } from "./connection";

type Server = components["schemas"]["Server"];

const server = {
  id: "pg", name: "pg", engine: "postgresql", host: "db.example", port: 5432, username: "backup",
  tls_mode: "require", has_password: true,
} as unknown as Server;
const same = { host: "DB.example", port: "5432", username: "backup", tls_mode: "require" as const };

describe("server credentials", () => {
  it("asks for the password again when it would go elsewhere or over weaker TLS", () => {
    expect(passwordNeeded(server, same)).toBeNull();
    expect(passwordNeeded(server, { ...same, tls_mode: "verify-full" })).toBeNull();
    expect(passwordNeeded(server, { ...same, tls_mode: "disable" })).toMatch(/TLS is lowered from require to disable/);
    expect(passwordNeeded(server, { ...same, username: "root" })).toMatch(/the username/);
    expect(passwordNeeded(server, { ...same, host: "other", port: "5433" })).toMatch(/you changed the host and the port/);
    expect(passwordNeeded({ ...server, has_password: false }, { ...same, username: "root" })).toBeNull();
    expect(passwordNeeded(undefined, same)).toBeNull();
  });

  it("explains every TLS mode and every outcome", () => {
    expect(TLS_MODES.map((mode) => mode.value)).toEqual(["verify-full", "require", "prefer", "disable"]);
    expect(TLS_MODES.every((mode) => mode.explanation.length > 20)).toBe(true);
    expect(NEXT_STEP.tls_required).toMatch(/^The server refuses our TLS setting/);
    expect(Object.keys(NEXT_STEP).sort()).toEqual(
      ["authentication_failed", "ok", "other", "timeout", "tls_required", "unreachable"],
    );
  });
});
