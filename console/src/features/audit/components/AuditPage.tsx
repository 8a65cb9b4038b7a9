import type { ColumnDef } from "@tanstack/react-table";
import { useState } from "react";

import { DataTable } from "@/components/DataTable";
import { TextField } from "@/components/Field";
import { PageHeader } from "@/components/PageHeader";
import { ErrorMessage, QueryState } from "@/components/QueryState";
import { StatusBadge } from "@/components/StatusBadge";
import { useCan } from "@/lib/caller";
import { formatTime } from "@/lib/format";
import type { components } from "@/types/api";

import { useAudit, type AuditFilters } from "../api/audit";

type Entry = components["schemas"]["AuditEntry"];

const columns: ColumnDef<Entry, unknown>[] = [
  { header: "When", accessorKey: "at", cell: ({ row }) => formatTime(row.original.at) },
  { header: "Who", accessorKey: "actor" },
  { header: "Action", accessorKey: "action" },
  { header: "Resource", accessorKey: "resource" },
  { header: "Outcome", accessorKey: "outcome", cell: ({ row }) => <StatusBadge status={row.original.outcome === "denied" ? "failed" : row.original.outcome} label={row.original.outcome} /> },
  {
    header: "Details",
    accessorFn: (row) => JSON.stringify(row.details ?? {}),
    cell: ({ getValue }) => <code className="details">{getValue() as string}</code>,
  },
];

export function AuditPage() {
  const admin = useCan("admin");
  const [draft, setDraft] = useState({ actor: "", action: "", resource: "", from: "", to: "" });
  const [filters, setFilters] = useState<AuditFilters>({ page_size: 50 });
  const [pages, setPages] = useState<(string | undefined)[]>([undefined]);
  const audit = useAudit({ ...filters, continuation: pages[pages.length - 1] }, admin);
  if (!admin) return <ErrorMessage error={new Error("The audit log is for admins (Backup.Admin).")} title="Not available" />;
  const set = (name: keyof typeof draft) => (event: { target: { value: string } }) =>
    setDraft((current) => ({ ...current, [name]: event.target.value }));
  return (
    <>
      <PageHeader title="Audit" lead="Every change, test, download, backup, verify and restore: who, what, and how it ended." />
      <form
        className="filters"
        aria-label="Filters"
        onSubmit={(event) => {
          event.preventDefault();
          setPages([undefined]);
          setFilters({
            page_size: 50,
            actor: draft.actor || undefined,
            action: draft.action || undefined,
            resource: draft.resource || undefined,
            from: draft.from ? new Date(draft.from).toISOString() : undefined,
            to: draft.to ? new Date(draft.to).toISOString() : undefined,
          });
        }}
      >
        <TextField label="Actor" value={draft.actor} onChange={set("actor")} />
        <TextField label="Action" value={draft.action} onChange={set("action")} placeholder="e.g. backup.start" />
        <TextField label="Resource" value={draft.resource} onChange={set("resource")} placeholder="e.g. servers/prod-pg" />
        <TextField label="From" type="date" value={draft.from} onChange={set("from")} />
        <TextField label="To" type="date" value={draft.to} onChange={set("to")} />
        <div className="actions">
          <button type="submit">Apply</button>
        </div>
      </form>
      <QueryState query={audit} what="the audit log">
        {(page) => (
          <>
            <DataTable caption="Audit entries, newest first" data={page.items} columns={columns} rowId={(row) => row.id} empty="No entry matches." />
            <div className="pager">
              <button type="button" disabled={pages.length === 1} onClick={() => setPages((current) => current.slice(0, -1))}>Newer</button>
              <span className="muted">Page {pages.length}</span>
              <button type="button" disabled={!page.continuation} onClick={() => setPages((current) => [...current, page.continuation ?? undefined])}>Older</button>
            </div>
          </>
        )}
      </QueryState>
    </>
  );
}
