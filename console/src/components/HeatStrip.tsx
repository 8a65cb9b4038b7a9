// One cell per slot, coloured by what became of it, oldest left. Each cell names itself
// for screen readers and in its tooltip; the legend explains the colours.
import type { components } from "@/types/api";

import { formatTime } from "@/lib/format";

type Cell = components["schemas"]["CalendarCell"];

export const CELL_LABELS: Record<string, string> = {
  succeeded: "succeeded",
  failed: "failed",
  cancelled: "cancelled",
  running: "running",
  queued: "queued",
  expired: "expired (was kept, now deleted)",
  missed: "missed",
  due: "due",
  upcoming: "upcoming",
  disabled: "database disabled",
};

export function describeCell(cell: Cell): string {
  const tiers = cell.tiers && cell.tiers.length ? ` (${cell.tiers.join(", ")})` : " (manual)";
  const error = cell.error ? `: ${cell.error}` : "";
  return `${formatTime(cell.at)}${tiers} ${CELL_LABELS[cell.status] ?? cell.status}${error}`;
}

export function HeatStrip({ label, cells }: { label: string; cells: Cell[] }) {
  if (cells.length === 0) return <p className="muted">No slots in this period.</p>;
  return (
    <ol className="heat-strip" aria-label={label}>
      {cells.map((cell) => (
        <li
          key={`${cell.at}-${cell.backup_id ?? ""}`}
          className={`heat-cell ${cell.status}`}
          title={describeCell(cell)}
          data-status={cell.status}
        >
          <span className="visually-hidden">{describeCell(cell)}</span>
        </li>
      ))}
    </ol>
  );
}

export function HeatLegend() {
  const shown = ["succeeded", "failed", "cancelled", "missed", "running", "upcoming", "expired"];
  return (
    <ul className="heat-legend" aria-label="Legend">
      {shown.map((status) => (
        <li key={status}>
          <span className={`heat-cell ${status}`} aria-hidden="true" /> {CELL_LABELS[status]}
        </li>
      ))}
    </ul>
  );
}
