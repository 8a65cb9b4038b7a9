// A policy as the form edits it (strings, a switch per tier) and as the API takes it.
import type { components } from "@/types/api";

type Policy = components["schemas"]["Policy"];

export const TIERS = ["hourly", "daily", "weekly", "monthly", "yearly"] as const;
export type TierName = (typeof TIERS)[number];

export interface TierDraft {
  on: boolean;
  keep_count: string;
  every_hours: string;
  minute: string;
  time: string;
  weekday: string;
  day: string;
  month: string;
}

export interface PolicyDraft {
  name: string;
  id: string;
  description: string;
  timezone: string;
  tiers: Record<TierName, TierDraft>;
}

const KEEP: Record<TierName, number> = { hourly: 24, daily: 7, weekly: 4, monthly: 12, yearly: 3 };

export function draftFrom(policy?: Policy): PolicyDraft {
  const tiers = {} as Record<TierName, TierDraft>;
  for (const tier of TIERS) {
    const rule = (policy?.[tier] ?? null) as Record<string, unknown> | null;
    tiers[tier] = {
      on: rule !== null,
      keep_count: String(rule?.keep_count ?? KEEP[tier]),
      every_hours: String(rule?.every_hours ?? 1),
      minute: String(rule?.minute ?? 0),
      time: String(rule?.time ?? "02:00"),
      weekday: String(rule?.weekday ?? "sunday"),
      day: String(rule?.day ?? 1),
      month: String(rule?.month ?? 1),
    };
  }
  return {
    name: policy?.name ?? "",
    id: policy?.id ?? "",
    description: policy?.description ?? "",
    timezone: policy?.timezone ?? "UTC",
    tiers,
  };
}

function number(text: string): number | string {
  const value = Number(text);
  // Sent as typed when it is not a number: the API names the field that is wrong.
  return text.trim() !== "" && Number.isFinite(value) ? value : text;
}

/** The tier rules as the API takes them; a tier switched off is null (removed). */
export function tierRules(draft: PolicyDraft): Record<TierName, Record<string, unknown> | null> {
  const rules = {} as Record<TierName, Record<string, unknown> | null>;
  for (const tier of TIERS) {
    const t = draft.tiers[tier];
    if (!t.on) {
      rules[tier] = null;
      continue;
    }
    const rule: Record<string, unknown> = { enabled: true, keep_count: number(t.keep_count) };
    if (tier === "hourly") Object.assign(rule, { every_hours: number(t.every_hours), minute: number(t.minute) });
    else rule.time = t.time;
    if (tier === "weekly") rule.weekday = t.weekday;
    if (tier === "monthly" || tier === "yearly") rule.day = number(t.day);
    if (tier === "yearly") rule.month = number(t.month);
    rules[tier] = rule;
  }
  return rules;
}

export function previewBody(draft: PolicyDraft): Record<string, unknown> {
  return { timezone: draft.timezone.trim(), ...tierRules(draft), count: 8 };
}

export function saveBody(draft: PolicyDraft, creating: boolean): Record<string, unknown> {
  const body: Record<string, unknown> = {
    name: draft.name.trim(),
    description: draft.description,
    timezone: draft.timezone.trim(),
    ...tierRules(draft),
  };
  if (creating && draft.id.trim()) body.id = draft.id.trim();
  return body;
}
