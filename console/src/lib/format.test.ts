import { describe, expect, it } from "vitest";

import { formatAge, formatBytes, formatDuration, formatPercent, successRate } from "./format";

describe("formatting", () => {
  it("shows bytes in binary units with sensible precision", () => {
    expect(formatBytes(0)).toBe("0 B");
    expect(formatBytes(2940)).toBe("2.87 KB");
    expect(formatBytes(15 * 1024 * 1024)).toBe("15.0 MB");
    expect(formatBytes(300 * 1024 ** 3)).toBe("300 GB");
    expect(formatBytes(null)).toBe("–");
  });

  it("shows durations and ages", () => {
    expect(formatDuration(1.2)).toBe("1 s");
    expect(formatDuration(125)).toBe("2 min 5 s");
    expect(formatDuration(25 * 3600)).toBe("25 h 0 min");
    expect(formatDuration(3 * 86400 + 3600)).toBe("3 d 1 h");
    expect(formatAge(null)).toBe("never");
    expect(formatAge(0.5)).toBe("30 min 0 s ago");
  });

  it("computes success rates, none when nothing finished", () => {
    expect(successRate(0, 0)).toBeNull();
    expect(successRate(3, 1)).toBe(0.75);
    expect(formatPercent(0.75)).toBe("75.0 %");
    expect(formatPercent(1)).toBe("100 %");
    expect(formatPercent(null)).toBe("–");
  });
});
