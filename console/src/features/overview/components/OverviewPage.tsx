import type { ColumnDef } from "@tanstack/react-table";
import { Link } from "react-router";

import { DataTable } from "@/components/DataTable";
import { PageHeader, Section, Stat } from "@/components/PageHeader";
import { QueryState } from "@/components/QueryState";
import { RunningJobs } from "@/components/RunningJobs";
import { StatusBadge } from "@/components/StatusBadge";
import { TierChart } from "@/components/TierChart";
import { formatAge, formatBytes, formatDuration, formatPercent, formatTime, successRate } from "@/lib/format";

import { useOverview, useStatus, type DatabaseHealth } from "../api/overview";
import { protection } from "../protection";

const databaseColumns: ColumnDef<DatabaseHealth, unknown>[] = [
  {
    header: "Database",
    accessorFn: (row) => row.display_name ?? row.name,
    cell: ({ row }) => (
      <Link to={`/databases/${row.original.database_id}`}>{row.original.display_name ?? row.original.name}</Link>
    ),
  },
  {
    id: "protection",
    header: "Protection",
    accessorFn: (row) => protection(row).label,
    cell: ({ row }) => {
      const state = protection(row.original);
      return (
        <span title={row.original.stale_reason ?? undefined}>
          <StatusBadge status={state.tone} label={state.label} />
        </span>
      );
    },
  },
  {
    header: "Last good backup",
    accessorFn: (row) => row.age_hours ?? Number.POSITIVE_INFINITY,
    cell: ({ row }) => (
      <span title={formatTime(row.original.last_success_at)}>{formatAge(row.original.age_hours)}</span>
    ),
  },
  {
    header: "Last drill",
    accessorFn: (row) => row.last_drill?.age_hours ?? Number.POSITIVE_INFINITY,
    cell: ({ row }) => {
      const drill = row.original.last_drill;
      if (!drill) return <span className="muted">none</span>;
      const rto = drill.restore_seconds === null || drill.restore_seconds === undefined ? "" : `, RTO ${drill.restore_seconds.toFixed(1)} s`;
      return (
        <span title={drill.error ?? `${formatTime(drill.at)}${rto}`}>
          <StatusBadge status={drill.status} /> {formatAge(drill.age_hours)}
        </span>
      );
    },
  },
  {
    header: "Allowed age",
    accessorFn: (row) => row.allowed_hours,
    cell: ({ row }) => (row.original.allowed_hours ? formatDuration(row.original.allowed_hours * 3600) : "no schedule"),
  },
  {
    header: "24 h",
    accessorFn: (row) => successRate(row.last_24h?.succeeded ?? 0, row.last_24h?.failed ?? 0),
    cell: ({ row }) => rate(row.original.last_24h),
  },
  {
    header: "7 days",
    accessorFn: (row) => successRate(row.last_7d?.succeeded ?? 0, row.last_7d?.failed ?? 0),
    cell: ({ row }) => rate(row.original.last_7d),
  },
  {
    header: "Next slot",
    accessorFn: (row) => row.next_slot?.at ?? "",
    cell: ({ row }) =>
      row.original.next_slot ? `${formatTime(row.original.next_slot.at)} (${row.original.next_slot.tiers.join(", ")})` : "–",
  },
  { header: "Stored", accessorFn: (row) => row.stored_bytes, cell: ({ row }) => formatBytes(row.original.stored_bytes) },
];

function rate(counts: { succeeded: number; failed: number } | undefined) {
  const value = successRate(counts?.succeeded ?? 0, counts?.failed ?? 0);
  if (value === null) return <span className="muted">–</span>;
  return `${formatPercent(value)} (${counts?.succeeded ?? 0}/${(counts?.succeeded ?? 0) + (counts?.failed ?? 0)})`;
}

export function OverviewPage() {
  const overview = useOverview();
  const status = useStatus();
  return (
    <>
      <PageHeader title="Overview" lead="Every database's protection at a glance; stale ones first." />
      <QueryState query={status} what="the status">
        {(report) => (
          <div className="stats">
            <Stat label="Success, last 24 h" value={formatPercent(report.last_24h.success_rate)} tone={tone(report.last_24h.success_rate)} />
            <Stat label="Success, last 7 days" value={formatPercent(report.last_7d.success_rate)} tone={tone(report.last_7d.success_rate)} />
            <Stat label="Stored" value={`${formatBytes(report.storage.stored_bytes)} in ${report.storage.backups} backups`} />
            <Stat
              label="Stale databases"
              value={report.stale_databases.length}
              tone={report.stale_databases.length ? "bad" : "good"}
            />
          </div>
        )}
      </QueryState>
      <Section title="Running jobs">
        <RunningJobs />
      </Section>
      <Section title="Databases">
        <QueryState query={overview} what="the databases">
          {(data) => (
            <DataTable
              caption="Databases, stale first"
              data={data.databases}
              columns={databaseColumns}
              rowId={(row) => row.database_id}
              empty="No database is configured yet. Add a server, then discover its databases."
            />
          )}
        </QueryState>
      </Section>
      <div className="grid-2">
        <Section title="Storage by tier">
          <QueryState query={overview} what="storage">
            {(data) => <TierChart usage={data.storage_by_tier} />}
          </QueryState>
        </Section>
        <Section title="Next slots">
          <QueryState query={overview} what="the next slots">
            {(data) =>
              data.next_slots.length ? (
                <ul className="plain-list">
                  {data.next_slots.map((slot) => (
                    <li key={slot.at}>
                      <strong>{formatTime(slot.at)}</strong> {slot.tiers.join(", ")} — {slot.database_ids.join(", ")}
                    </li>
                  ))}
                </ul>
              ) : (
                <p className="empty">No scheduled slot: no enabled database has a policy.</p>
              )
            }
          </QueryState>
        </Section>
      </div>
    </>
  );
}

function tone(rate: number | null | undefined): "good" | "warn" | "bad" | undefined {
  if (rate === null || rate === undefined) return undefined;
  return rate >= 0.99 ? "good" : rate >= 0.9 ? "warn" : "bad";
}
