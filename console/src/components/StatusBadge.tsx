const TONES: Record<string, string> = {
  succeeded: "good", Completed: "good", ok: "good",
  failed: "bad", Failed: "bad", missed: "bad", Terminated: "warn", cancelled: "warn",
  running: "info", Running: "info", queued: "info", Pending: "info", due: "info", attempted: "info",
  expired: "muted", upcoming: "muted", disabled: "muted",
};

export function StatusBadge({ status, label }: { status: string | null | undefined; label?: string }) {
  const value = status ?? "unknown";
  return <span className={`badge ${TONES[value] ?? "muted"}`}>{label ?? value}</span>;
}
