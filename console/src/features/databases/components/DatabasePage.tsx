import type { ColumnDef } from "@tanstack/react-table";
import { useState } from "react";
import { Link, useNavigate, useParams } from "react-router";

import { DataTable } from "@/components/DataTable";
import { HeatLegend, HeatStrip } from "@/components/HeatStrip";
import { JobProgress } from "@/components/JobProgress";
import { PageHeader, Section } from "@/components/PageHeader";
import { ErrorMessage, QueryState } from "@/components/QueryState";
import { RunningJobs } from "@/components/RunningJobs";
import { StatusBadge } from "@/components/StatusBadge";
import { useCalendar } from "@/hooks/use-calendar";
import { usePolicies, useServers } from "@/hooks/use-catalog";
import { Can, useCan } from "@/lib/caller";
import { formatBytes, formatDuration, formatTime, secondsBetween } from "@/lib/format";

import {
  useBackupNow,
  useDatabase,
  useDatabaseBackups,
  useDeleteDatabase,
  useRetentionPreview,
  useSwitchDatabase,
  useUpdateDatabase,
  type BackupRecord,
} from "../api/databases";
import type { BackupOutput } from "@/types/jobs";

import { DrillsSection } from "./DrillsSection";
import { RetentionTimeline } from "./RetentionTimeline";

const historyColumns: ColumnDef<BackupRecord, unknown>[] = [
  { header: "Started", accessorKey: "created_at", cell: ({ row }) => formatTime(row.original.created_at) },
  { header: "Status", accessorKey: "status", cell: ({ row }) => <StatusBadge status={row.original.status} /> },
  { header: "Tiers", accessorFn: (row) => (row.tiers?.length ? row.tiers.join(", ") : row.trigger) },
  { header: "Size", accessorKey: "stored_bytes", cell: ({ row }) => formatBytes(row.original.stored_bytes) },
  {
    header: "Took",
    accessorFn: (row) => (row.started_at && row.finished_at ? secondsBetween(row.started_at, new Date(row.finished_at)) : null),
    cell: ({ getValue }) => formatDuration(getValue() as number | null),
  },
  { header: "Reason", accessorKey: "error", cell: ({ row }) => row.original.error ?? "" },
];

export function DatabasePage() {
  const { databaseId = "" } = useParams();
  const database = useDatabase(databaseId);
  const servers = useServers();
  const policies = usePolicies();
  const calendar = useCalendar(databaseId, 14);
  const server = servers.data?.find((item) => item.id === database.data?.server_id);
  const inherited = server?.default_policy_id ?? null;
  const scheduled = Boolean(database.data?.policy_id ?? inherited);
  const retention = useRetentionPreview(databaseId, scheduled);
  const backupNow = useBackupNow(databaseId);
  const switchState = useSwitchDatabase(databaseId);
  const update = useUpdateDatabase(databaseId);
  const remove = useDeleteDatabase(databaseId);
  const [jobId, setJobId] = useState<string | null>(null);
  const history = useDatabaseBackups(databaseId, jobId ? 3000 : false);
  const admin = useCan("admin");
  const navigate = useNavigate();
  return (
    <QueryState query={database} what="the database">
      {(data) => {
        return (
          <>
            <PageHeader
              title={data.display_name ?? data.name}
              lead={
                <>
                  {data.name} on <Link to={`/servers/${data.server_id}`}>{server?.name ?? data.server_id}</Link> ·{" "}
                  <StatusBadge status={data.enabled ? "succeeded" : "disabled"} label={data.enabled ? "enabled" : "disabled"} />
                </>
              }
            >
              <Can role="operator">
                <button
                  type="button"
                  className="primary"
                  disabled={backupNow.isPending}
                  onClick={() => backupNow.mutate(undefined, { onSuccess: (job) => setJobId(job.instance_id) })}
                >
                  Back up now
                </button>
              </Can>
              <Can role="admin">
                <button type="button" onClick={() => switchState.mutate(!data.enabled)} disabled={switchState.isPending}>
                  {data.enabled ? "Disable" : "Enable"}
                </button>
                <button
                  type="button"
                  className="danger"
                  onClick={() => {
                    if (window.confirm(`Remove ${data.name} from backups? Its backups are kept.`)) {
                      remove.mutate(false, { onSuccess: () => void navigate("/databases") });
                    }
                  }}
                >
                  Remove
                </button>
              </Can>
            </PageHeader>
            {backupNow.error ? <ErrorMessage error={backupNow.error} title="The backup did not start" /> : null}
            {switchState.error ? <ErrorMessage error={switchState.error} title="Not changed" /> : null}
            {remove.error ? <ErrorMessage error={remove.error} title="Not removed" /> : null}
            {jobId ? (
              <JobProgress instanceId={jobId} label="Backup">
                {(job) => {
                  const output = job.output as BackupOutput | null;
                  return (
                    <p data-testid="backup-outcome">
                      <StatusBadge status={job.result} />{" "}
                      {job.result === "succeeded"
                        ? `${formatBytes(output?.stored_bytes)} stored.`
                        : (output?.error ?? "The job ended without a result.")}
                    </p>
                  );
                }}
              </JobProgress>
            ) : null}
            <Section title="Running now">
              <RunningJobs databaseId={databaseId} caption={`Jobs running on ${data.name}`} />
            </Section>
            <Section title="Policy">
              {admin ? (
                <div className="field">
                  <label htmlFor="database-policy">Policy</label>
                  <select
                    id="database-policy"
                    value={data.policy_id ?? ""}
                    onChange={(event) => update.mutate({ policy_id: event.target.value || null })}
                  >
                    <option value="">the server's default ({inherited ?? "none"})</option>
                    {(policies.data ?? []).map((policy) => (
                      <option key={policy.id} value={policy.id}>{policy.name}</option>
                    ))}
                  </select>
                  {update.error ? <ErrorMessage error={update.error} title="Not saved" /> : null}
                </div>
              ) : (
                <p>{data.policy_id ?? `${inherited ?? "none"} (the server's default)`}</p>
              )}
            </Section>
            <Section title="Last 14 days">
              <HeatLegend />
              <QueryState query={calendar} what="the calendar">
                {(cal) => {
                  const row = cal.rows[0];
                  return row ? (
                    <>
                      <HeatStrip label={`Slots of ${data.name}`} cells={row.slots} />
                      {row.manual.length ? (
                        <>
                          <h3>Manual backups</h3>
                          <HeatStrip label={`Manual backups of ${data.name}`} cells={row.manual} />
                        </>
                      ) : null}
                    </>
                  ) : null;
                }}
              </QueryState>
            </Section>
            <Section title="Backup history" actions={<Link to={`/backups?database_id=${databaseId}`}>All backups of this database</Link>}>
              <QueryState query={history} what="the history">
                {(pages) => (
                  <>
                    <DataTable caption="Backup history" data={pages.pages.flatMap((page) => page.items)} columns={historyColumns} rowId={(row) => row.id} empty="No backup yet." />
                    {history.hasNextPage ? (
                      <button type="button" onClick={() => void history.fetchNextPage()} disabled={history.isFetchingNextPage}>
                        Show older
                      </button>
                    ) : null}
                  </>
                )}
              </QueryState>
            </Section>
            <DrillsSection databaseId={databaseId} />
            <Section title="Retention preview">
              {scheduled ? (
                <QueryState query={retention} what="the retention preview">
                  {(preview) => <RetentionTimeline preview={preview} />}
                </QueryState>
              ) : (
                <p className="empty">No policy (neither its own nor its server's): nothing is scheduled and retention deletes nothing.</p>
              )}
            </Section>
          </>
        );
      }}
    </QueryState>
  );
}
