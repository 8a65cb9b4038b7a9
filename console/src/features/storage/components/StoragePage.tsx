import type { ColumnDef } from "@tanstack/react-table";
import { useState } from "react";
import { Link } from "react-router";
import { Area, AreaChart, CartesianGrid, ResponsiveContainer, Tooltip, XAxis, YAxis } from "recharts";

import { DataTable } from "@/components/DataTable";
import { SelectField } from "@/components/Field";
import { PageHeader, Section, Stat } from "@/components/PageHeader";
import { QueryState } from "@/components/QueryState";
import { TierChart } from "@/components/TierChart";
import { formatBytes, formatTime } from "@/lib/format";
import type { components } from "@/types/api";

import { useStorage } from "../api/storage";

type Usage = components["schemas"]["DatabaseUsage"];

const usageColumns: ColumnDef<Usage, unknown>[] = [
  { header: "Database", accessorKey: "database_id", cell: ({ row }) => <Link to={`/databases/${row.original.database_id}`}>{row.original.database_id}</Link> },
  { header: "Backups", accessorKey: "backups" },
  { header: "Stored", accessorKey: "stored_bytes", cell: ({ row }) => formatBytes(row.original.stored_bytes) },
];

export function StoragePage() {
  const [days, setDays] = useState(30);
  const storage = useStorage(days);
  return (
    <>
      <PageHeader title="Storage" lead="What the backups occupy, where, and what retention frees next.">
        <SelectField label="Period" value={days} onChange={(event) => setDays(Number(event.target.value))}>
          <option value={7}>7 days</option>
          <option value={30}>30 days</option>
          <option value={90}>90 days</option>
          <option value={365}>1 year</option>
        </SelectField>
      </PageHeader>
      <QueryState query={storage} what="storage">
        {(report) => {
          const frees = report.retention_frees.reduce((sum, usage) => sum + usage.stored_bytes, 0);
          return (
            <>
              <div className="stats">
                <Stat label="Stored now" value={formatBytes(report.stored_bytes)} />
                <Stat label="Backups held" value={report.backups} />
                <Stat label="Retention frees next" value={formatBytes(frees)} />
              </div>
              <Section title="Over time">
                <figure className="chart">
                  <div className="chart-box" aria-hidden="true">
                    <ResponsiveContainer width="100%" height={240}>
                      <AreaChart accessibilityLayer={false} data={report.over_time.map((point) => ({ ...point, time: new Date(point.at).getTime() }))}>
                        <CartesianGrid strokeDasharray="3 3" vertical={false} />
                        <XAxis dataKey="time" type="number" domain={["dataMin", "dataMax"]} tickFormatter={(value: number) => new Date(value).toLocaleDateString()} />
                        <YAxis tickFormatter={(value: number) => formatBytes(value)} width={72} />
                        <Tooltip labelFormatter={(value) => formatTime(new Date(Number(value)).toISOString())} formatter={(value) => formatBytes(Number(value))} />
                        <Area type="stepAfter" dataKey="stored_bytes" name="stored" stroke="#1d4ed8" fill="#93c5fd" />
                      </AreaChart>
                    </ResponsiveContainer>
                  </div>
                  <figcaption className="muted">
                    Bytes held at the end of each day, from {formatBytes(report.over_time[0]?.stored_bytes ?? 0)} to{" "}
                    {formatBytes(report.over_time[report.over_time.length - 1]?.stored_bytes ?? 0)}. Backups deleted with their
                    database leave no trace, so the past can only be under-counted.
                  </figcaption>
                </figure>
              </Section>
              <div className="grid-2">
                <Section title="By tier">
                  <TierChart usage={report.by_tier} />
                </Section>
                <Section title="By database">
                  <DataTable caption="Storage by database" data={report.by_database} columns={usageColumns} rowId={(row) => row.database_id} empty="No database yet." />
                </Section>
              </div>
              <Section title="What retention frees next">
                <DataTable
                  caption="What retention would delete if it ran now"
                  data={report.retention_frees}
                  columns={usageColumns}
                  rowId={(row) => row.database_id}
                  empty="Retention would delete nothing now."
                />
              </Section>
            </>
          );
        }}
      </QueryState>
    </>
  );
}
