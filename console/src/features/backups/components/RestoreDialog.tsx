// Restore one backup into a new database, follow the job, and show the manifest comparison.
import { useState, type FormEvent } from "react";

import { CheckField, SelectField, TextField } from "@/components/Field";
import { JobProgress } from "@/components/JobProgress";
import { StatusBadge } from "@/components/StatusBadge";
import { useServers } from "@/hooks/use-catalog";
import { ApiError } from "@/lib/errors";
import { formatTime } from "@/lib/format";
import type { RestoreOutput } from "@/types/jobs";

import { useRestore, type BackupRecord } from "../api/backups";
import { compareTables, comparisonVerdict } from "../comparison";
import { ArchivedNotice } from "./ArchivedNotice";

const FAMILY: Record<string, string> = { mariadb: "mysql", mysql: "mysql" };

export function RestoreDialog({ record }: { record: BackupRecord }) {
  const servers = useServers();
  const restore = useRestore(record);
  const source = servers.data?.find((server) => server.id === record.server_id);
  const family = (engine?: string) => (engine ? (FAMILY[engine] ?? engine) : undefined);
  const targets = (servers.data ?? []).filter((server) => !source || family(server.engine) === family(source.engine));
  const [target, setTarget] = useState(() => `${record.manifest?.database ?? record.database_id}_restored`.replace(/[^A-Za-z0-9_]/g, "_"));
  const [serverId, setServerId] = useState(record.server_id);
  const [allowNonEmpty, setAllowNonEmpty] = useState(false);
  const fields = restore.error instanceof ApiError ? restore.error.fields : {};
  function submit(event: FormEvent) {
    event.preventDefault();
    restore.mutate({ target_database: target, target_server_id: serverId, allow_non_empty: allowNonEmpty });
  }
  if (restore.data) {
    return (
      <JobProgress instanceId={restore.data.instance_id} label="Restore">
        {(job) => <RestoreResult record={record} output={job.output as RestoreOutput | null} />}
      </JobProgress>
    );
  }
  return (
    <form className="form" onSubmit={submit} noValidate>
      <p className="muted">
        Backup of {formatTime(record.created_at)} ({record.manifest?.tables.length ?? 0} tables in its manifest).
      </p>
      {restore.error && !Object.keys(fields).length ? <ArchivedNotice record={record} error={restore.error} title="The restore did not start" /> : null}
      <TextField label="Target database" value={target} onChange={(event) => setTarget(event.target.value)} error={fields.target_database} hint="a new database, created by the restore" />
      <SelectField label="Target server" value={serverId} onChange={(event) => setServerId(event.target.value)} error={fields.target_server_id}>
        {targets.map((server) => (
          <option key={server.id} value={server.id}>{server.name}</option>
        ))}
      </SelectField>
      <CheckField label="Allow restoring over existing tables" checked={allowNonEmpty} onChange={(event) => setAllowNonEmpty(event.target.checked)} />
      <div className="actions">
        <button type="submit" className="primary" disabled={restore.isPending || !target}>
          Restore
        </button>
      </div>
    </form>
  );
}

function RestoreResult({ record, output }: { record: BackupRecord; output: RestoreOutput | null }) {
  if (!output) return <p>The restore ended without a result.</p>;
  if (output.error) {
    return (
      <div className="error-box" role="alert">
        <strong>The restore failed.</strong> {output.error}
      </div>
    );
  }
  const rows = compareTables(record.manifest, output.table_differences ?? []);
  const differences = rows.filter((row) => !row.same).length;
  const verdict = comparisonVerdict(record.manifest, output);
  if (verdict.status === "skipped") {
    return (
      <p data-testid="restore-outcome">
        <StatusBadge status={verdict.status} label={verdict.label} /> Restored into <strong>{output.target_database}</strong>;{" "}
        {output.comparison_note ?? "the backup's record has no manifest, so its tables were not compared."}
      </p>
    );
  }
  return (
    <>
      <p data-testid="restore-outcome">
        <StatusBadge status={verdict.status} label={verdict.label} /> Restored
        into <strong>{output.target_database}</strong>: {rows.length} tables compared, {differences} difference
        {differences === 1 ? "" : "s"}.
      </p>
      <div className="table-wrap">
        <table>
          <caption>Tables and rows: the backup's manifest against the restored database</caption>
          <thead>
            <tr>
              <th scope="col">Table</th>
              <th scope="col">Rows in the backup</th>
              <th scope="col">Rows restored</th>
              <th scope="col">Difference</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((row) => (
              <tr key={row.table} className={row.same ? undefined : "row-bad"}>
                <td>{row.table}</td>
                <td>{row.expected ?? "absent"}</td>
                <td>{row.restored ?? "absent"}</td>
                <td>{row.same ? "none" : row.expected !== null && row.restored !== null ? row.restored - row.expected : "missing"}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </>
  );
}
