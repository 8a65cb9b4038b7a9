// The service's encryption keys (age identities, public parts only): which one new
// backups are encrypted to, the older ones kept for the backups encrypted to them, and,
// for admins, rotation and retirement (crypto-shredding), each asked first.
import type { ColumnDef } from "@tanstack/react-table";
import { useMemo, useState } from "react";

import { ConfirmDialog } from "@/components/ConfirmDialog";
import { DataTable } from "@/components/DataTable";
import { Dialog } from "@/components/Dialog";
import { PageHeader, Section, Stat } from "@/components/PageHeader";
import { QueryState } from "@/components/QueryState";
import { StatusBadge } from "@/components/StatusBadge";
import { Can, useCan } from "@/lib/caller";
import { formatTime } from "@/lib/format";

import { useKeys, useRotateKey, type Key } from "../api/keys";
import { RetireKey } from "./RetireKey";

function state(key: Key): { status: string; label: string } {
  if (key.state === "retired") return { status: "failed", label: "retired" };
  return key.current ? { status: "succeeded", label: "current" } : { status: "upcoming", label: "kept for old backups" };
}

export function KeysPage() {
  const keys = useKeys();
  const rotate = useRotateKey();
  const admin = useCan("admin");
  const [rotating, setRotating] = useState(false);
  const [retiring, setRetiring] = useState<Key | null>(null);
  const columns = useMemo<ColumnDef<Key, unknown>[]>(() => {
    const shown: ColumnDef<Key, unknown>[] = [
      { header: "Key", accessorKey: "id", cell: ({ row }) => <code>{row.original.id}</code> },
      { id: "state", header: "State", accessorFn: (row) => state(row).label, cell: ({ row }) => <StatusBadge {...state(row.original)} /> },
      { header: "Public key (recipient)", accessorKey: "recipient", enableSorting: false, cell: ({ row }) => <code className="key">{row.original.recipient}</code> },
      { header: "Created", accessorKey: "created_at", cell: ({ row }) => formatTime(row.original.created_at) },
      { header: "Retired", accessorKey: "retired_at", cell: ({ row }) => formatTime(row.original.retired_at) },
    ];
    if (admin) {
      shown.push({
        id: "actions",
        header: "Actions",
        enableSorting: false,
        cell: ({ row }) =>
          row.original.state === "retired" ? null : row.original.current ? (
            <span className="muted">rotate first to retire it</span>
          ) : (
            <button type="button" className="danger" onClick={() => setRetiring(row.original)} aria-label={`Retire key ${row.original.id}`}>
              Retire
            </button>
          ),
      });
    }
    return shown;
  }, [admin]);
  return (
    <>
      <PageHeader
        title="Encryption keys"
        lead="New backups are encrypted (age) to the current key and to any extra recipients; older keys stay for the backups encrypted to them. Only public keys are shown."
      >
        <Can role="admin">
          <button type="button" className="primary" onClick={() => { rotate.reset(); setRotating(true); }}>
            Rotate key
          </button>
        </Can>
      </PageHeader>
      {rotate.data ? (
        <p className="notice good" role="status" data-testid="rotated">
          New current key <code>{rotate.data.id}</code>: new backups are encrypted to it.
        </p>
      ) : null}
      <QueryState query={keys} what="the keys">
        {(list) => (
          <>
            <div className="stats">
              <Stat label="New backups" value={list.encryption ? "encrypted" : "not encrypted"} tone={list.encryption ? "good" : "warn"} />
              <Stat label="Extra recipients (every backup)" value={list.extra_recipients.length || "none"} />
            </div>
            <Section title="The service's keys">
              <DataTable
                caption="Encryption keys, newest first"
                data={list.items}
                columns={columns}
                rowId={(row) => row.id}
                empty="No key yet: the service makes its first key when it takes its first encrypted backup."
              />
            </Section>
            <Section title="Extra recipients">
              {list.extra_recipients.length ? (
                <ul className="plain-list">
                  {list.extra_recipients.map((recipient) => (
                    <li key={recipient}><code className="key">{recipient}</code></li>
                  ))}
                </ul>
              ) : (
                <p className="empty">None for every backup (the BACKUP_RECIPIENTS setting). A policy can add its own.</p>
              )}
              <p className="muted">
                Keys you hold yourself (a break-glass key kept offline) keep backups readable if the service's keys are lost
                or retired: <code>age -d -i key.txt backup.sql.zst.age | zstd -d &gt; backup.sql</code>.
              </p>
            </Section>
          </>
        )}
      </QueryState>
      <ConfirmDialog
        open={rotating}
        title="Rotate the encryption key?"
        confirmLabel="Rotate"
        pending={rotate.isPending}
        error={rotate.error}
        onClose={() => setRotating(false)}
        onConfirm={() => rotate.mutate(undefined, { onSuccess: () => setRotating(false) })}
      >
        <p>
          A new key is made and new backups are encrypted to it. The current key stays, so the backups already encrypted
          to it remain readable; retire it later if you want them unreadable. The change is audited.
        </p>
      </ConfirmDialog>
      <Dialog open={retiring !== null} title={`Retire key ${retiring?.id ?? ""}`} onClose={() => setRetiring(null)}>
        {retiring ? <RetireKey key={retiring.id} keyId={retiring.id} onClose={() => setRetiring(null)} /> : null}
      </Dialog>
    </>
  );
}
