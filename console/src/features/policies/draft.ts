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

export const ACCESS_TIERS = ["hot", "cool", "cold", "archive"] as const;
export type AccessTierName = (typeof ACCESS_TIERS)[number];

export interface PolicyDraft {
  name: string;
  id: string;
  description: string;
  timezone: string;
  tiers: Record<TierName, TierDraft>;
  /** Backup tiers whose blobs nobody can delete or overwrite while their tier keeps them. */
  immutable: Record<TierName, boolean>;
  /** The Blob Storage access tier of each backup tier's blobs. */
  access: Record<TierName, AccessTierName>;
  /** Extra age1… public keys, one a line (or separated by commas). */
  recipients: string;
}

const KEEP: Record<TierName, number> = { hourly: 24, daily: 7, weekly: 4, monthly: 12, yearly: 3 };
// A new policy starts with the API's defaults (PolicyCreate).
const IMMUTABLE: TierName[] = ["monthly", "yearly"];
const ACCESS: Partial<Record<TierName, AccessTierName>> = { monthly: "cool", yearly: "cold" };

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
  const immutable = policy?.immutable_tiers ?? IMMUTABLE;
  const access = (policy?.access_tiers ?? ACCESS) as Partial<Record<TierName, AccessTierName>>;
  return {
    name: policy?.name ?? "",
    id: policy?.id ?? "",
    description: policy?.description ?? "",
    timezone: policy?.timezone ?? "UTC",
    tiers,
    immutable: Object.fromEntries(TIERS.map((tier) => [tier, immutable.includes(tier)])) as Record<TierName, boolean>,
    access: Object.fromEntries(TIERS.map((tier) => [tier, access[tier] ?? "hot"])) as Record<TierName, AccessTierName>,
    recipients: (policy?.encryption_recipients ?? []).join("\n"),
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

/** The recipients as typed, one per line or comma; each checked by the API. */
export function recipientList(text: string): string[] {
  return text
    .split(/[\n,]/)
    .map((value) => value.trim())
    .filter(Boolean);
}

export function saveBody(draft: PolicyDraft, creating: boolean): Record<string, unknown> {
  const body: Record<string, unknown> = {
    name: draft.name.trim(),
    description: draft.description,
    timezone: draft.timezone.trim(),
    ...tierRules(draft),
    immutable_tiers: TIERS.filter((tier) => draft.immutable[tier]),
    // Hot is what a tier not named gets: only the others are sent.
    access_tiers: Object.fromEntries(TIERS.filter((tier) => draft.access[tier] !== "hot").map((tier) => [tier, draft.access[tier]])),
    encryption_recipients: recipientList(draft.recipients),
  };
  if (creating && draft.id.trim()) body.id = draft.id.trim();
  return body;
}
