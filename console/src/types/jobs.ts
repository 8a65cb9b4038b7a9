// What the durable jobs return. The API declares a job's `output` as free-form JSON (it
// depends on the job), so these mirror shared/jobs.py's BackupOutput, VerifyOutput and
// RestoreOutput by hand; everything else comes from the generated contract (api.d.ts).

export interface BackupOutput {
  database_id: string;
  record_id: string;
  status: string;
  error?: string | null;
  stored_bytes?: number | null;
}

export interface VerifyOutput {
  ok: boolean;
  sha256_ok?: boolean | null;
  marker_ok?: boolean | null;
  error?: string | null;
}

export interface TableDifference {
  table: string;
  expected_rows?: number | null;
  actual_rows?: number | null;
}

export interface RestoreOutput {
  ok: boolean;
  target_server_id: string;
  target_database: string;
  differences: string[];
  table_differences?: TableDifference[];
  tables_compared?: number;
  // "not_compared": the backup's record has no manifest (rebuilt from its blob's metadata).
  comparison?: "matches" | "differs" | "not_compared" | null;
  comparison_note?: string | null;
  error?: string | null;
}
