import { describe, expect, it } from "vitest";

import { formatRto } from "./DrillsSection";

describe("drill RTO", () => {
  it("shows tenths of a second under ten seconds, a duration above", () => {
    expect(formatRto(0.44)).toBe("0.4 s");
    expect(formatRto(9.96)).toBe("10.0 s");
    expect(formatRto(75)).toBe("1 min 15 s");
    expect(formatRto(null)).toBe("–");
  });
});
