// Restore drills of one database: the latest ones (backup restored, RTO, what the comparison
// found) and a drill now. A drill restores into a scratch database it drops afterwards.
import type { ColumnDef } from "@tanstack/react-table";
import { useState } from "react";

import { DataTable } from "@/components/DataTable";
import { JobProgress } from "@/components/JobProgress";
import { Section } from "@/components/PageHeader";
import { ErrorMessage, QueryState } from "@/components/QueryState";
import { StatusBadge } from "@/components/StatusBadge";
import { Can } from "@/lib/caller";
import { formatBytes, formatDuration, formatTime } from "@/lib/format";

import { useDatabaseDrills, useDrillNow, type DrillRecord } from "../api/databases";

// Drills of small databases take well under a second: show tenths there.
export function formatRto(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined) return "–";
  return seconds < 10 ? `${seconds.toFixed(1)} s` : formatDuration(seconds);
}

const columns: ColumnDef<DrillRecord, unknown>[] = [
  { header: "Started", accessorKey: "created_at", cell: ({ row }) => formatTime(row.original.created_at) },
  { header: "Status", accessorKey: "status", cell: ({ row }) => <StatusBadge status={row.original.status} /> },
  { header: "Backup of", accessorKey: "backup_taken_at", cell: ({ row }) => formatTime(row.original.backup_taken_at) },
  { header: "RTO", accessorKey: "restore_seconds", cell: ({ row }) => formatRto(row.original.restore_seconds) },
  {
    header: "Throughput",
    accessorKey: "bytes_per_second",
    cell: ({ row }) => (row.original.bytes_per_second ? `${formatBytes(row.original.bytes_per_second)}/s` : "–"),
  },
  {
    header: "Tables",
    accessorKey: "tables_compared",
    // A backup whose record has no manifest restores, but nothing was compared: never a pass.
    cell: ({ row }) => (row.original.compared === false ? "not compared" : row.original.tables_compared),
  },
  { header: "Reason", accessorKey: "error", cell: ({ row }) => row.original.error ?? "" },
];

export function DrillsSection({ databaseId }: { databaseId: string }) {
  const [jobId, setJobId] = useState<string | null>(null);
  const drills = useDatabaseDrills(databaseId, jobId ? 3000 : false);
  const drillNow = useDrillNow(databaseId);
  const actions = (
    <Can role="operator">
      <button
        type="button"
        disabled={drillNow.isPending}
        onClick={() => drillNow.mutate(undefined, { onSuccess: (job) => setJobId(job.instance_id) })}
      >
        Drill now
      </button>
    </Can>
  );
  return (
    <Section title="Restore drills" actions={actions}>
      {drillNow.error ? <ErrorMessage error={drillNow.error} title="The drill did not start" /> : null}
      {jobId ? (
        <JobProgress instanceId={jobId} label="Drill">
          {(job) => {
            const output = job.output as DrillRecord | null;
            return (
              <p data-testid="drill-outcome">
                <StatusBadge status={output?.status ?? job.runtime_status} />{" "}
                {output?.status === "succeeded"
                  ? `Restored and compared in ${formatRto(output.restore_seconds)}.`
                  : (output?.error ?? "The job ended without a result.")}
              </p>
            );
          }}
        </JobProgress>
      ) : null}
      <QueryState query={drills} what="the drills">
        {(page) => (
          <DataTable
            caption="Restore drills"
            data={page.items}
            columns={columns}
            rowId={(row) => row.id}
            empty="No drill yet: give the policy a drill schedule, or drill now."
          />
        )}
      </QueryState>
    </Section>
  );
}
