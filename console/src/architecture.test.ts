// The import rules of the console (bulletproof-react): app → features → shared code, never
// back, and no feature imports another; no barrel files. Like the Python layering test.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative, sep } from "node:path";

import { describe, expect, it } from "vitest";

const SRC = join(__dirname);
const SHARED = ["components", "hooks", "lib", "types"];

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : /\.(ts|tsx)$/.test(name) ? [path] : [];
  });
}

function area(path: string): string[] {
  return relative(SRC, path).split(sep);
}

function imports(path: string): string[] {
  const text = readFileSync(path, "utf8");
  return [...text.matchAll(/(?:from|import)\s*\(?\s*["'](@\/[^"']+|\.{1,2}\/[^"']+)["']/g)].map((m) => m[1]);
}

function target(from: string, specifier: string): string[] {
  if (specifier.startsWith("@/")) return specifier.slice(2).split("/");
  return relative(SRC, join(from, "..", specifier)).split(sep);
}

describe("architecture", () => {
  const sources = files(SRC).filter((path) => !path.endsWith(".test.ts") && !path.endsWith(".test.tsx"));

  it("has sources to check", () => {
    expect(sources.length).toBeGreaterThan(30);
  });

  it("keeps imports pointing one way", () => {
    const wrong: string[] = [];
    for (const path of sources) {
      const [top, feature] = area(path);
      for (const specifier of imports(path)) {
        const [to, toFeature] = target(path, specifier);
        const shared = SHARED.includes(top);
        if (shared && (to === "features" || to === "app")) wrong.push(`${relative(SRC, path)} → ${specifier}`);
        if (top === "features" && to === "app") wrong.push(`${relative(SRC, path)} → ${specifier}`);
        if (top === "features" && to === "features" && toFeature !== feature) wrong.push(`${relative(SRC, path)} → ${specifier}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it("has no barrel files", () => {
    expect(sources.filter((path) => /index\.tsx?$/.test(path))).toEqual([]);
  });
});
