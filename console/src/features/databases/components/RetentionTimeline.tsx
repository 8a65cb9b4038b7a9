// What retention would do now, drawn on a time line (kept above, deleted below), with each
// backup's reason in the table beneath.
import type { ColumnDef } from "@tanstack/react-table";
import { CartesianGrid, ResponsiveContainer, Scatter, ScatterChart, Tooltip, XAxis, YAxis } from "recharts";

import { DataTable } from "@/components/DataTable";
import { StatusBadge } from "@/components/StatusBadge";
import { formatTime } from "@/lib/format";

import type { RetentionPreview } from "../api/databases";

type Decision = RetentionPreview["decisions"][number];

export interface TimelinePoint {
  time: number;
  lane: number;
  rule: string;
  backupId: string;
}

/** Kept backups on lane 1, deleted ones on lane 0, by creation time. */
export function timelinePoints(decisions: Decision[]): { kept: TimelinePoint[]; deleted: TimelinePoint[] } {
  const kept: TimelinePoint[] = [];
  const deleted: TimelinePoint[] = [];
  for (const decision of decisions) {
    if (!decision.created_at) continue;
    const keep = decision.action === "keep";
    const point = { time: new Date(decision.created_at).getTime(), lane: keep ? 1 : 0, rule: decision.rule, backupId: decision.backup_id };
    (keep ? kept : deleted).push(point);
  }
  return { kept, deleted };
}

const columns: ColumnDef<Decision, unknown>[] = [
  { header: "Backup", accessorKey: "created_at", cell: ({ row }) => formatTime(row.original.created_at) },
  { header: "Tiers", accessorFn: (row) => (row.tiers?.length ? row.tiers.join(", ") : "manual") },
  { header: "Status", accessorKey: "status", cell: ({ row }) => <StatusBadge status={row.original.status} /> },
  {
    header: "Decision",
    accessorKey: "action",
    cell: ({ row }) => <StatusBadge status={row.original.action === "keep" ? "succeeded" : "failed"} label={row.original.action} />,
  },
  { header: "Why", accessorKey: "rule" },
];

export function RetentionTimeline({ preview }: { preview: RetentionPreview }) {
  const { kept, deleted } = timelinePoints(preview.decisions);
  return (
    <>
      <p className="muted">
        Policy {preview.policy_id}, evaluated {formatTime(preview.evaluated_at)}: {kept.length} kept, {deleted.length} to delete
        {preview.deferred ? `, ${preview.deferred} deferred to the next run` : ""}.
      </p>
      {kept.length + deleted.length > 0 ? (
        <div className="chart-box" aria-hidden="true">
          <ResponsiveContainer width="100%" height={140}>
            <ScatterChart accessibilityLayer={false} margin={{ top: 8, right: 16, bottom: 8, left: 8 }}>
              <CartesianGrid strokeDasharray="3 3" />
              <XAxis
                dataKey="time"
                type="number"
                domain={["dataMin", "dataMax"]}
                tickFormatter={(value: number) => new Date(value).toLocaleDateString()}
              />
              <YAxis dataKey="lane" type="number" domain={[-0.5, 1.5]} ticks={[0, 1]} tickFormatter={(value: number) => (value ? "kept" : "deleted")} width={64} />
              <Tooltip labelFormatter={() => ""} formatter={(_value, _name, item) => (item?.payload as TimelinePoint | undefined)?.rule ?? ""} />
              <Scatter name="kept" data={kept} fill="#15803d" />
              <Scatter name="deleted" data={deleted} fill="#b91c1c" />
            </ScatterChart>
          </ResponsiveContainer>
        </div>
      ) : null}
      <DataTable caption="Retention decisions" data={preview.decisions} columns={columns} rowId={(row) => row.backup_id} empty="No backup to decide on yet." />
    </>
  );
}
