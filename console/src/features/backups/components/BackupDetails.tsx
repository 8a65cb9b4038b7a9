// One backup: how it is stored (access tier, encryption, immutability, legal hold), its
// checksum, and what may be done to it: legal hold and deletion (admins), rehydration of
// an archived blob (operators). A protected backup says why it cannot be deleted.
import { useState } from "react";

import { ErrorMessage } from "@/components/QueryState";
import { StatusBadge } from "@/components/StatusBadge";
import { useCan } from "@/lib/caller";
import { formatBytes, formatTime } from "@/lib/format";

import { useDeleteBackup, useLegalHold, useRehydrate, type BackupRecord } from "../api/backups";
import { ACCESS_TIER_NOTES, encryption, protections } from "../protection";

export function BackupDetails({ record, onDeleted }: { record: BackupRecord; onDeleted: () => void }) {
  const admin = useCan("admin");
  const operator = useCan("operator");
  const hold = useLegalHold(record);
  const rehydrate = useRehydrate(record);
  const remove = useDeleteBackup(record);
  const [confirming, setConfirming] = useState(false);
  const current = hold.data ?? record;
  const reasons = protections(current);
  const stored = current.status === "succeeded" && Boolean(current.blob_name);
  const settled = current.status !== "running" && current.status !== "queued";
  const tier = current.access_tier ?? null;
  return (
    <div className="backup-details">
      <dl className="pairs">
        <div><dt>Database</dt><dd>{current.database_id}</dd></div>
        <div><dt>Backup</dt><dd>{current.id}</dd></div>
        <div><dt>Created</dt><dd>{formatTime(current.created_at)}</dd></div>
        <div><dt>Status</dt><dd><StatusBadge status={current.status} /></dd></div>
        <div><dt>Tiers</dt><dd>{current.tiers?.length ? current.tiers.join(", ") : current.trigger}</dd></div>
        <div><dt>Size</dt><dd>{formatBytes(current.stored_bytes)} stored, {formatBytes(current.raw_bytes)} dumped</dd></div>
        <div><dt>SHA-256 (stored bytes)</dt><dd><code>{current.sha256 ?? "–"}</code></dd></div>
        <div><dt>Encryption</dt><dd data-testid="backup-encryption">{encryption(current)}</dd></div>
        <div>
          <dt>Access tier</dt>
          <dd data-testid="backup-access-tier">{tier ? `${tier}: ${ACCESS_TIER_NOTES[tier] ?? ""}` : "–"}</dd>
        </div>
        <div>
          <dt>Immutable until</dt>
          <dd>{current.immutable_until ? formatTime(current.immutable_until) : "not immutable"}</dd>
        </div>
        <div><dt>Legal hold</dt><dd data-testid="backup-legal-hold">{current.legal_hold ? "yes: nobody can delete or overwrite it" : "no"}</dd></div>
      </dl>
      {operator && stored && tier === "archive" ? (
        <div className="actions">
          <button type="button" onClick={() => rehydrate.mutate(undefined)} disabled={rehydrate.isPending || Boolean(rehydrate.data)}>
            Rehydrate
          </button>
          {rehydrate.data ? <span role="status">{rehydrate.data.message}</span> : null}
        </div>
      ) : null}
      {rehydrate.error ? <ErrorMessage error={rehydrate.error} title="Not rehydrated" /> : null}
      {admin && stored ? (
        <div className="actions">
          <button type="button" onClick={() => hold.mutate(!current.legal_hold)} disabled={hold.isPending}>
            {current.legal_hold ? "Clear legal hold" : "Set legal hold"}
          </button>
          {hold.isSuccess ? <span role="status" className="muted">{current.legal_hold ? "Legal hold set." : "Legal hold cleared."}</span> : null}
        </div>
      ) : null}
      {hold.error ? <ErrorMessage error={hold.error} title="The legal hold was not changed" /> : null}
      {admin && settled ? (
        <div className="danger-zone">
          {reasons.length ? (
            <p data-testid="backup-protected">
              <strong>Cannot be deleted:</strong> {reasons.join("; ")}.
            </p>
          ) : confirming ? (
            <div className="actions">
              <span>Delete this backup and its file? This cannot be undone.</span>
              <button type="button" onClick={() => setConfirming(false)}>Back</button>
              <button type="button" className="danger solid" disabled={remove.isPending} onClick={() => remove.mutate(undefined, { onSuccess: onDeleted })}>
                Delete for good
              </button>
            </div>
          ) : (
            <button type="button" className="danger" onClick={() => { remove.reset(); setConfirming(true); }}>
              Delete backup
            </button>
          )}
          {remove.error ? <ErrorMessage error={remove.error} title="Not deleted" /> : null}
        </div>
      ) : null}
    </div>
  );
}
