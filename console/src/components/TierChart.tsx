// Stored bytes per tier as bars (Recharts), with the figures also in a list for those who
// do not read charts.
import { Bar, BarChart, CartesianGrid, ResponsiveContainer, Tooltip, XAxis, YAxis } from "recharts";

import type { components } from "@/types/api";

import { formatBytes } from "@/lib/format";

type Usage = components["schemas"]["TierUsage"];

export function TierChart({ usage }: { usage: Usage[] }) {
  if (usage.length === 0) return <p className="empty">No backups stored yet.</p>;
  return (
    <figure className="chart">
      <div className="chart-box" aria-hidden="true">
        <ResponsiveContainer width="100%" height={200}>
          <BarChart accessibilityLayer={false} data={usage} margin={{ top: 8, right: 8, bottom: 8, left: 8 }}>
            <CartesianGrid strokeDasharray="3 3" vertical={false} />
            <XAxis dataKey="tier" />
            <YAxis tickFormatter={(value: number) => formatBytes(value)} width={72} />
            <Tooltip formatter={(value) => formatBytes(Number(value))} />
            <Bar dataKey="stored_bytes" name="stored" fill="#2563eb" />
          </BarChart>
        </ResponsiveContainer>
      </div>
      <figcaption>
        <ul className="inline-list">
          {usage.map((entry) => (
            <li key={entry.tier}>
              {entry.tier}: {formatBytes(entry.stored_bytes)} in {entry.backups} backup{entry.backups === 1 ? "" : "s"}
            </li>
          ))}
        </ul>
      </figcaption>
    </figure>
  );
}
