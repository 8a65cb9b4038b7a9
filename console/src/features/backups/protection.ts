// What a backup record says about how it is stored: its access tier, its encryption, and
// what protects it from deletion (the API refuses to delete it then, with the same words).
import { formatTime } from "@/lib/format";
import type { components } from "@/types/api";

type BackupRecord = components["schemas"]["BackupRecord"];

export const ACCESS_TIER_NOTES: Record<string, string> = {
  hot: "read at once",
  cool: "cheaper to keep, dearer to read",
  cold: "cheaper still to keep; read at once",
  archive: "must be rehydrated (up to 15 hours) before it can be downloaded, verified or restored",
};

/** True while an immutability policy keeps the backup (its date not passed yet). */
export function immutableNow(record: BackupRecord, now: Date = new Date()): boolean {
  return Boolean(record.immutable_until) && new Date(record.immutable_until as string).getTime() > now.getTime();
}

/** Why the API would refuse to delete this backup now; empty when it may go. */
export function protections(record: BackupRecord, now: Date = new Date()): string[] {
  const reasons: string[] = [];
  if (record.legal_hold) reasons.push("under a legal hold: clear the hold first");
  if (immutableNow(record, now)) {
    reasons.push(`immutable until ${formatTime(record.immutable_until)}: nobody can delete it before then`);
  }
  return reasons;
}

/** "age, key 1a2b…" or "not encrypted". */
export function encryption(record: BackupRecord): string {
  if (!record.encryption) return "not encrypted";
  const key = record.identity_id ? `, key ${record.identity_id}` : "";
  const others = record.extra_recipients?.length ?? 0;
  const extra = others ? ` and ${others} other key${others === 1 ? "" : "s"}` : "";
  return `${record.encryption}${key}${extra}`;
}

/** How to read a downloaded backup by hand. */
export function readingHint(blobName: string, encrypted: boolean): string {
  const file = blobName.split("/").pop() ?? blobName;
  const plain = file.replace(/\.zst(\.age)?$/, "");
  return encrypted ? `age -d -i key.txt ${file} | zstd -d > ${plain}` : `zstd -d ${file} -o ${plain}`;
}
