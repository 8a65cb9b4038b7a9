import type { ColumnDef, RowSelectionState } from "@tanstack/react-table";
import { useMemo, useState } from "react";
import { Link, useSearchParams } from "react-router";

import { DataTable } from "@/components/DataTable";
import { Dialog } from "@/components/Dialog";
import { SelectField, TextField } from "@/components/Field";
import { JobProgress } from "@/components/JobProgress";
import { PageHeader, Section } from "@/components/PageHeader";
import { ErrorMessage, QueryState } from "@/components/QueryState";
import { StatusBadge } from "@/components/StatusBadge";
import { useDatabases } from "@/hooks/use-catalog";
import { useCan } from "@/lib/caller";
import { describeError } from "@/lib/errors";
import { formatBytes, formatTime } from "@/lib/format";

import {
  deleteBackup,
  startVerify,
  useBackups,
  useDownload,
  useInvalidateBackups,
  type BackupFilters,
  type BackupRecord,
} from "../api/backups";
import type { VerifyOutput } from "@/types/jobs";

import { RestoreDialog } from "./RestoreDialog";

const PAGE_SIZE = 25;
const available = (record: BackupRecord) => record.status === "succeeded" && Boolean(record.blob_name);

interface Started {
  instanceId: string;
  label: string;
}

export function BackupsPage() {
  const [params, setParams] = useSearchParams();
  const filters: BackupFilters = {
    database_id: params.get("database_id") || undefined,
    status: (params.get("status") || undefined) as BackupFilters["status"],
    tier: (params.get("tier") || undefined) as BackupFilters["tier"],
    from: params.get("from") ? new Date(params.get("from") as string).toISOString() : undefined,
    to: params.get("to") ? new Date(params.get("to") as string).toISOString() : undefined,
  };
  const [pages, setPages] = useState<(string | undefined)[]>([undefined]);
  const continuation = pages[pages.length - 1];
  const backups = useBackups({ ...filters, page_size: PAGE_SIZE, continuation });
  const databases = useDatabases();
  const [selection, setSelection] = useState<RowSelectionState>({});
  const [started, setStarted] = useState<Started[]>([]);
  const [bulkError, setBulkError] = useState<string | null>(null);
  const [restoring, setRestoring] = useState<BackupRecord | null>(null);
  const download = useDownload();
  const invalidate = useInvalidateBackups();
  const operator = useCan("operator");
  const admin = useCan("admin");
  const items = backups.data?.items ?? [];
  const chosen = items.filter((record) => selection[record.id]);

  function setFilter(name: string, value: string) {
    const next = new URLSearchParams(params);
    if (value) next.set(name, value);
    else next.delete(name);
    setParams(next);
    setPages([undefined]);
    setSelection({});
  }

  async function verify(records: BackupRecord[]) {
    setBulkError(null);
    const failures: string[] = [];
    for (const record of records.filter(available)) {
      try {
        const job = await startVerify(record);
        setStarted((current) => [{ instanceId: job.instance_id, label: `Verify ${record.database_id} ${formatTime(record.created_at)}` }, ...current]);
      } catch (error) {
        failures.push(`${record.id}: ${describeError(error)}`);
      }
    }
    if (failures.length) setBulkError(`Not verified: ${failures.join("; ")}`);
  }

  async function remove(records: BackupRecord[]) {
    if (!window.confirm(`Delete ${records.length} backup(s)? Their files are deleted too.`)) return;
    setBulkError(null);
    const failures: string[] = [];
    for (const record of records) {
      try {
        await deleteBackup(record);
      } catch (error) {
        failures.push(`${record.id}: ${describeError(error)}`);
      }
    }
    setSelection({});
    await invalidate();
    if (failures.length) setBulkError(`Not deleted: ${failures.join("; ")}`);
  }

  const columns = useMemo<ColumnDef<BackupRecord, unknown>[]>(
    () => [
      { header: "Created", accessorKey: "created_at", cell: ({ row }) => formatTime(row.original.created_at) },
      {
        header: "Database",
        accessorKey: "database_id",
        cell: ({ row }) => <Link to={`/databases/${row.original.database_id}`}>{row.original.database_id}</Link>,
      },
      { header: "Status", accessorKey: "status", cell: ({ row }) => <StatusBadge status={row.original.status} /> },
      { header: "Tiers", accessorFn: (row) => (row.tiers?.length ? row.tiers.join(", ") : row.trigger) },
      { header: "Size", accessorKey: "stored_bytes", cell: ({ row }) => formatBytes(row.original.stored_bytes) },
      { header: "Tables", accessorFn: (row) => row.manifest?.tables.length ?? null, cell: ({ getValue }) => (getValue() as number | null) ?? "–" },
      { header: "Reason", accessorKey: "error", cell: ({ row }) => row.original.error ?? "" },
      {
        id: "actions",
        header: "Actions",
        enableSorting: false,
        cell: ({ row }) => {
          const record = row.original;
          if (!available(record)) return null;
          return (
            <div className="row-actions">
              {operator ? (
                <>
                  <button type="button" onClick={() => download.mutate(record)} aria-label={`Download backup ${record.id}`}>Download</button>
                  <button type="button" onClick={() => void verify([record])} aria-label={`Verify backup ${record.id}`}>Verify</button>
                </>
              ) : null}
              {admin ? (
                <button type="button" onClick={() => setRestoring(record)} aria-label={`Restore backup ${record.id}`}>Restore</button>
              ) : null}
            </div>
          );
        },
      },
    ],
    [operator, admin],
  );

  return (
    <>
      <PageHeader title="Backups" lead="Filter, download, verify and restore; select several for bulk actions." />
      <form className="filters" onSubmit={(event) => event.preventDefault()} aria-label="Filters">
        <SelectField label="Database" value={filters.database_id ?? ""} onChange={(event) => setFilter("database_id", event.target.value)}>
          <option value="">all</option>
          {(databases.data ?? []).map((database) => (
            <option key={database.id} value={database.id}>{database.display_name ?? database.name}</option>
          ))}
        </SelectField>
        <SelectField label="Status" value={filters.status ?? ""} onChange={(event) => setFilter("status", event.target.value)}>
          <option value="">any</option>
          {["succeeded", "failed", "running", "queued", "expired"].map((status) => (
            <option key={status} value={status}>{status}</option>
          ))}
        </SelectField>
        <SelectField label="Tier" value={filters.tier ?? ""} onChange={(event) => setFilter("tier", event.target.value)}>
          <option value="">any</option>
          {["hourly", "daily", "weekly", "monthly", "yearly"].map((tier) => (
            <option key={tier} value={tier}>{tier}</option>
          ))}
        </SelectField>
        <TextField label="From" type="date" value={params.get("from") ?? ""} onChange={(event) => setFilter("from", event.target.value)} />
        <TextField label="To" type="date" value={params.get("to") ?? ""} onChange={(event) => setFilter("to", event.target.value)} />
      </form>
      {operator && chosen.length ? (
        <div className="bulk-bar" role="region" aria-label="Bulk actions">
          <span>{chosen.length} selected</span>
          <button type="button" onClick={() => void verify(chosen)}>Verify selected</button>
          {admin ? (
            <button type="button" className="danger" onClick={() => void remove(chosen)}>Delete selected</button>
          ) : null}
        </div>
      ) : null}
      {bulkError ? <div className="error-box" role="alert">{bulkError}</div> : null}
      {download.error ? <ErrorMessage error={download.error} title="No download link" /> : null}
      {started.length ? (
        <Section title="Verifications started here">
          {started.map((job) => (
            <JobProgress key={job.instanceId} instanceId={job.instanceId} label={job.label}>
              {(status) => {
                const output = status.output as VerifyOutput | null;
                return (
                  <p data-testid="verify-outcome">
                    <StatusBadge status={output?.ok ? "succeeded" : "failed"} label={output?.ok ? "verified" : "not verified"} />{" "}
                    {output?.ok ? "Checksum and completion marker match." : (output?.error ?? "")}
                  </p>
                );
              }}
            </JobProgress>
          ))}
        </Section>
      ) : null}
      <QueryState query={backups} what="backups">
        {(page) => (
          <>
            <DataTable
              caption="Backups, newest first"
              data={page.items}
              columns={columns}
              rowId={(row) => row.id}
              selection={operator ? selection : undefined}
              onSelectionChange={operator ? setSelection : undefined}
              empty="No backup matches these filters."
            />
            <div className="pager">
              <button type="button" disabled={pages.length === 1} onClick={() => { setPages((current) => current.slice(0, -1)); setSelection({}); }}>
                Newer
              </button>
              <span className="muted">Page {pages.length}</span>
              <button
                type="button"
                disabled={!page.continuation}
                onClick={() => { setPages((current) => [...current, page.continuation ?? undefined]); setSelection({}); }}
              >
                Older
              </button>
            </div>
          </>
        )}
      </QueryState>
      <Dialog open={restoring !== null} title="Restore a backup" onClose={() => setRestoring(null)}>
        {restoring ? <RestoreDialog record={restoring} /> : null}
      </Dialog>
    </>
  );
}
