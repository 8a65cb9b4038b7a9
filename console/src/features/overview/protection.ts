// One word for a database's protection, from what the overview reports.
import type { components } from "@/types/api";

type Health = components["schemas"]["DatabaseHealth"];

export interface Protection {
  label: string;
  tone: "succeeded" | "failed" | "missed" | "disabled" | "upcoming" | "running";
}

export function protection(row: Health): Protection {
  if (!row.enabled) return { label: "disabled", tone: "disabled" };
  if (row.last_status === "running" || row.last_status === "queued") return { label: "backing up", tone: "running" };
  if (row.stale) return { label: row.last_success_at ? "stale" : "never backed up", tone: "missed" };
  if (row.last_status === "failed") return { label: "last run failed", tone: "failed" };
  if (!row.policy_id) return { label: "no schedule", tone: "upcoming" };
  if (!row.last_success_at) return { label: "waiting for first backup", tone: "upcoming" };
  return { label: "protected", tone: "succeeded" };
}
