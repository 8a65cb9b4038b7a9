import type { ColumnDef, RowSelectionState } from "@tanstack/react-table";
import { useMemo, useState } from "react";
import { Link, useSearchParams } from "react-router";

import { ConfirmDialog } from "@/components/ConfirmDialog";
import { DataTable } from "@/components/DataTable";
import { Dialog } from "@/components/Dialog";
import { SelectField, TextField } from "@/components/Field";
import { JobProgress } from "@/components/JobProgress";
import { PageHeader, Section } from "@/components/PageHeader";
import { QueryState } from "@/components/QueryState";
import { StatusBadge } from "@/components/StatusBadge";
import { useDatabases } from "@/hooks/use-catalog";
import { useCan } from "@/lib/caller";
import { describeError } from "@/lib/errors";
import { formatBytes, formatTime } from "@/lib/format";
import type { VerifyOutput } from "@/types/jobs";

import {
  deleteBackup,
  startVerify,
  useBackups,
  useDownload,
  useInvalidateBackups,
  type BackupFilters,
  type BackupRecord,
} from "../api/backups";
import { encryption, immutableNow, protections, readingHint } from "../protection";
import { ArchivedNotice, isArchived } from "./ArchivedNotice";
import { BackupDetails } from "./BackupDetails";
import { RestoreDialog } from "./RestoreDialog";

const PAGE_SIZE = 25;
const available = (record: BackupRecord) => record.status === "succeeded" && Boolean(record.blob_name);
const label = (record: BackupRecord) => `${record.database_id} ${formatTime(record.created_at)}`;

interface Started {
  instanceId: string;
  label: string;
}

interface Refusal {
  record: BackupRecord;
  error: unknown;
}

interface Outcome {
  action: string;
  done: number;
  refused: Refusal[];
}

function StoredAs({ record }: { record: BackupRecord }) {
  return (
    <span className="stored-as">
      {record.access_tier ? <span className={`badge ${record.access_tier === "archive" ? "warn" : "muted"}`}>{record.access_tier}</span> : null}
      {record.legal_hold ? <span className="badge warn">legal hold</span> : null}
      {immutableNow(record) ? (
        <span className="badge info">immutable until {formatTime(record.immutable_until)}</span>
      ) : null}
      {available(record) ? <span className="muted">{encryption(record)}</span> : null}
    </span>
  );
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
  const [outcome, setOutcome] = useState<Outcome | null>(null);
  const [restoring, setRestoring] = useState<BackupRecord | null>(null);
  const [detailsId, setDetailsId] = useState<string | null>(null);
  const [deleting, setDeleting] = useState<BackupRecord[] | null>(null);
  const [working, setWorking] = useState(false);
  const [downloading, setDownloading] = useState<BackupRecord | null>(null);
  const download = useDownload();
  const invalidate = useInvalidateBackups();
  const operator = useCan("operator");
  const admin = useCan("admin");
  const items = backups.data?.items ?? [];
  const chosen = items.filter((record) => selection[record.id]);
  const details = items.find((record) => record.id === detailsId) ?? null;

  function setFilter(name: string, value: string) {
    const next = new URLSearchParams(params);
    if (value) next.set(name, value);
    else next.delete(name);
    setParams(next);
    setPages([undefined]);
    setSelection({});
  }

  async function verify(records: BackupRecord[]) {
    setOutcome(null);
    const refused: Refusal[] = [];
    let done = 0;
    for (const record of records.filter(available)) {
      try {
        const job = await startVerify(record);
        done += 1;
        setStarted((current) => [{ instanceId: job.instance_id, label: `Verify ${label(record)}` }, ...current]);
      } catch (error) {
        refused.push({ record, error });
      }
    }
    if (refused.length) setOutcome({ action: "verified", done, refused });
  }

  async function remove(records: BackupRecord[]) {
    setWorking(true);
    const refused: Refusal[] = [];
    let done = 0;
    for (const record of records) {
      try {
        await deleteBackup(record);
        done += 1;
      } catch (error) {
        refused.push({ record, error });
      }
    }
    setWorking(false);
    setDeleting(null);
    setSelection({});
    setOutcome({ action: "deleted", done, refused });
    await invalidate();
  }

  function startDownload(record: BackupRecord) {
    setDownloading(record);
    download.mutate(record);
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
      { id: "stored", header: "Stored as", enableSorting: false, cell: ({ row }) => <StoredAs record={row.original} /> },
      { header: "Reason", accessorKey: "error", cell: ({ row }) => row.original.error ?? "" },
      {
        id: "actions",
        header: "Actions",
        enableSorting: false,
        cell: ({ row }) => {
          const record = row.original;
          return (
            <div className="row-actions">
              <button type="button" onClick={() => setDetailsId(record.id)} aria-label={`Details of backup ${record.id}`}>Details</button>
              {operator && available(record) ? (
                <>
                  <button type="button" onClick={() => startDownload(record)} aria-label={`Download backup ${record.id}`}>Download</button>
                  <button type="button" onClick={() => void verify([record])} aria-label={`Verify backup ${record.id}`}>Verify</button>
                </>
              ) : null}
              {admin && available(record) ? (
                <button type="button" onClick={() => setRestoring(record)} aria-label={`Restore backup ${record.id}`}>Restore</button>
              ) : null}
            </div>
          );
        },
      },
    ],
    // The handlers only set state (stable) and start requests.
    [operator, admin],
  );

  const link = download.data;
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
          {["succeeded", "failed", "cancelled", "running", "queued", "expired"].map((status) => (
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
            <button type="button" className="danger" onClick={() => setDeleting(chosen)}>Delete selected</button>
          ) : null}
        </div>
      ) : null}
      {outcome ? <BulkOutcome outcome={outcome} /> : null}
      {download.error && downloading ? <ArchivedNotice record={downloading} error={download.error} title="No download link" /> : null}
      {link ? (
        <div className="notice good" role="status" data-testid="download-link">
          <p>
            <strong>Download started:</strong> {link.blob_name}, {formatBytes(link.stored_bytes)}. The link works until{" "}
            {formatTime(link.expires_at)}: <a href={link.url} rel="noreferrer">download again</a>.
          </p>
          <p>
            SHA-256 of the file: <code data-testid="download-sha256">{link.sha256 ?? "not recorded"}</code>
          </p>
          <p>
            {link.encryption ? `Encrypted with ${link.encryption} to key ${link.key_id ?? "unknown"}; read it with a key it is encrypted to: ` : "Not encrypted; read it with: "}
            <code>{readingHint(link.blob_name, Boolean(link.encryption))}</code>
          </p>
        </div>
      ) : null}
      {started.length ? (
        <Section title="Verifications started here">
          {started.map((job) => (
            <JobProgress key={job.instanceId} instanceId={job.instanceId} label={job.label}>
              {(status) => {
                const output = status.output as VerifyOutput | null;
                const ok = status.result === "succeeded";
                return (
                  <p data-testid="verify-outcome">
                    <StatusBadge status={status.result} label={ok ? "verified" : "not verified"} />{" "}
                    {ok ? "Checksum, decryption and completion marker all match." : (output?.error ?? "")}
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
      <Dialog open={details !== null} title="Backup details" onClose={() => setDetailsId(null)}>
        {details ? <BackupDetails key={details.id} record={details} onDeleted={() => { setDetailsId(null); void invalidate(); }} /> : null}
      </Dialog>
      <ConfirmDialog
        open={deleting !== null}
        title={`Delete ${deleting?.length ?? 0} backup${deleting?.length === 1 ? "" : "s"}?`}
        confirmLabel="Delete for good"
        danger
        pending={working}
        onClose={() => setDeleting(null)}
        onConfirm={() => void remove(deleting ?? [])}
      >
        <p>Their files are deleted too; this cannot be undone. A backup under a legal hold or still immutable is refused and stays.</p>
        <ul className="plain-list">
          {(deleting ?? []).map((record) => (
            <li key={record.id}>
              {label(record)} <span className="muted">({record.id})</span>
              {protections(record).length ? <strong> — protected: {protections(record).join("; ")}</strong> : null}
            </li>
          ))}
        </ul>
      </ConfirmDialog>
    </>
  );
}

function BulkOutcome({ outcome }: { outcome: Outcome }) {
  return (
    <div className={`notice ${outcome.refused.length ? "bad" : "good"}`} role={outcome.refused.length ? "alert" : "status"} data-testid="bulk-outcome">
      <p>
        {outcome.done} backup{outcome.done === 1 ? "" : "s"} {outcome.action}
        {outcome.refused.length ? `; ${outcome.refused.length} refused:` : "."}
      </p>
      {outcome.refused.length ? (
        <ul className="plain-list">
          {outcome.refused.map(({ record, error }) => (
            <li key={record.id}>
              {isArchived(error) ? (
                <ArchivedNotice record={record} error={error} title={`${label(record)} (${record.id})`} />
              ) : (
                <>
                  {label(record)} <span className="muted">({record.id})</span>: {describeError(error)}
                </>
              )}
            </li>
          ))}
        </ul>
      ) : null}
    </div>
  );
}
