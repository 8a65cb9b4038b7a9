// Retiring a key deletes its secret (crypto-shredding): every backup encrypted only to it
// becomes unreadable to the service, for good. So the dry run comes first (the backups that
// become unreadable, and how many an extra recipient can still read), then the key's id
// typed to confirm.
import { useState } from "react";
import { Link } from "react-router";

import { TextField } from "@/components/Field";
import { ErrorMessage, QueryState } from "@/components/QueryState";

import { useRetireKey, useRetirePreview } from "../api/keys";

export function RetireKey({ keyId, onClose }: { keyId: string; onClose: () => void }) {
  const preview = useRetirePreview(keyId);
  const retire = useRetireKey(keyId);
  const [typed, setTyped] = useState("");
  if (retire.data) {
    return (
      <div role="status" data-testid="retired">
        <p>
          Key <code>{keyId}</code> is retired; its secret: {retire.data.secret ?? "deleted"}. The{" "}
          {retire.data.unreadable.length} backup{retire.data.unreadable.length === 1 ? "" : "s"} encrypted to it can no
          longer be verified or restored by the service.
        </p>
        <div className="actions dialog-actions">
          <button type="button" onClick={onClose}>Done</button>
        </div>
      </div>
    );
  }
  return (
    <QueryState query={preview} what="what retiring the key would do">
      {(report) => {
        const count = report.unreadable.length;
        return (
          <div className="form">
            <p data-testid="retire-dry-run">
              <strong>
                {count} backup{count === 1 ? "" : "s"} become{count === 1 ? "s" : ""} unreadable to the service
              </strong>{" "}
              once this key is retired: verify and restore will refuse {count === 1 ? "it" : "them"}, for good.
              {report.readable_by_extra_recipients
                ? ` ${report.readable_by_extra_recipients} of them can still be decrypted by whoever holds one of their extra recipients' keys.`
                : count === 1
                  ? " It has no other recipient: once the key's secret is gone, nobody can read it."
                  : count
                    ? " None of them has another recipient: once the key's secret is gone, nobody can read them."
                    : ""}
            </p>
            {report.blocked_by.length ? (
              <div className="error-box" role="alert" data-testid="retire-blocked">
                <strong>This key cannot be retired now:</strong> shredding it would destroy backups that must be kept
                or are being taken.
                <ul>
                  {report.blocked_by.map((backup) => (
                    <li key={`${backup.database_id}/${backup.backup_id}`}>
                      {backup.database_id}/{backup.backup_id}: {backup.reason}
                    </li>
                  ))}
                </ul>
              </div>
            ) : null}
            {count ? (
              <div className="table-wrap">
                <table>
                  <caption>Backups encrypted to key {keyId}</caption>
                  <thead>
                    <tr>
                      <th scope="col">Database</th>
                      <th scope="col">Backup</th>
                      <th scope="col">Other keys that can read it</th>
                    </tr>
                  </thead>
                  <tbody>
                    {report.unreadable.map((backup) => (
                      <tr key={`${backup.database_id}/${backup.backup_id}`}>
                        <td><Link to={`/backups?database_id=${backup.database_id}`}>{backup.database_id}</Link></td>
                        <td>{backup.backup_id}</td>
                        <td>{backup.extra_recipients || "none"}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            ) : null}
            <TextField
              label={`Type the key's id (${keyId}) to confirm`}
              value={typed}
              onChange={(event) => setTyped(event.target.value)}
              autoComplete="off"
              spellCheck={false}
            />
            {retire.error ? <ErrorMessage error={retire.error} title="Not retired" /> : null}
            <div className="actions dialog-actions">
              <button type="button" onClick={onClose}>Back</button>
              <button
                type="button"
                className="danger solid"
                disabled={typed.trim() !== keyId || retire.isPending || report.blocked_by.length > 0}
                onClick={() => retire.mutate()}
              >
                {retire.isPending ? "Retiring…" : "Retire key for good"}
              </button>
            </div>
          </div>
        );
      }}
    </QueryState>
  );
}
