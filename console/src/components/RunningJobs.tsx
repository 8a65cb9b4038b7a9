// The jobs running now, with their phase, bytes dumped and elapsed time (polled every two
// seconds while something runs), a Cancel button for operators on backups and
// verifications, and the jobs cancelled here followed until they have stopped.
import type { ColumnDef } from "@tanstack/react-table";
import { useMemo, useState } from "react";
import { Link } from "react-router";

import { useNow } from "@/hooks/use-now";
import { cancellable, useRunningJobs, type JobInProgress } from "@/hooks/use-running-jobs";
import { useCan } from "@/lib/caller";
import { formatBytes, formatDuration, formatTime, secondsBetween } from "@/lib/format";

import { CancelJob } from "./CancelJob";
import { DataTable } from "./DataTable";
import { JobProgress } from "./JobProgress";
import { QueryState } from "./QueryState";

const KIND_LABELS: Record<string, string> = { backup: "Backup", verify: "Verification", restore: "Restore" };

// Its own clock: the columns (and so the cells' components) must not change every second.
function Elapsed({ since }: { since: string | null | undefined }) {
  const now = useNow(true);
  return <span data-testid="job-elapsed">{formatDuration(secondsBetween(since, now))}</span>;
}

function describe(job: JobInProgress): string {
  const kind = KIND_LABELS[job.kind] ?? job.kind;
  return job.database_id ? `${kind.toLowerCase()} of ${job.database_id}` : kind.toLowerCase();
}

export function RunningJobs({ databaseId, caption = "Running jobs" }: { databaseId?: string; caption?: string }) {
  const jobs = useRunningJobs();
  const operator = useCan("operator");
  const [stopped, setStopped] = useState<{ instanceId: string; label: string }[]>([]);
  const columns = useMemo<ColumnDef<JobInProgress, unknown>[]>(() => {
    const shown: ColumnDef<JobInProgress, unknown>[] = [
      { header: "Job", accessorKey: "kind", cell: ({ row }) => KIND_LABELS[row.original.kind] ?? row.original.kind },
      {
        header: "Database",
        accessorKey: "database_id",
        cell: ({ row }) =>
          row.original.database_id ? <Link to={`/databases/${row.original.database_id}`}>{row.original.database_id}</Link> : "–",
      },
      { header: "Phase", accessorKey: "phase", cell: ({ row }) => row.original.phase ?? "starting" },
      { header: "Dumped", accessorKey: "raw_bytes", cell: ({ row }) => (row.original.kind === "backup" ? formatBytes(row.original.raw_bytes) : "–") },
      { header: "Started", accessorKey: "created_time", cell: ({ row }) => formatTime(row.original.created_time) },
      {
        id: "elapsed",
        header: "Elapsed",
        accessorFn: (row) => row.created_time,
        cell: ({ row }) => <Elapsed since={row.original.created_time} />,
      },
    ];
    if (!operator) return shown;
    shown.push({
      id: "actions",
      header: "Actions",
      enableSorting: false,
      cell: ({ row }) =>
        cancellable(row.original.kind) ? (
          <CancelJob
            instanceId={row.original.instance_id}
            what={describe(row.original)}
            backup={row.original.kind === "backup"}
            onCancelled={(instanceId) =>
              setStopped((current) => [{ instanceId, label: describe(row.original).replace(/^./, (c) => c.toUpperCase()) }, ...current])
            }
          />
        ) : (
          <span className="muted">cannot be cancelled</span>
        ),
    });
    return shown;
  }, [operator]);
  return (
    <>
      <QueryState query={jobs} what="running jobs">
        {(list) => {
          const shown = list.items.filter((job) => !databaseId || job.database_id === databaseId);
          return (
            <>
              <DataTable caption={caption} data={shown} columns={columns} rowId={(row) => row.instance_id} empty="Nothing is running." />
              {shown.some((job) => job.kind === "backup") ? (
                <p className="muted">A running dump reports the bytes it has dumped about every 15 seconds.</p>
              ) : null}
            </>
          );
        }}
      </QueryState>
      {stopped.map((job) => (
        <JobProgress key={job.instanceId} instanceId={job.instanceId} label={job.label} />
      ))}
    </>
  );
}
