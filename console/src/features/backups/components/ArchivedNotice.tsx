// A backup in the Archive tier cannot be read until it is rehydrated: the API says so (409
// `archived`, with what to do); this shows its words and, to operators, the way out.
import { ErrorMessage } from "@/components/QueryState";
import { useCan } from "@/lib/caller";
import { ApiError } from "@/lib/errors";

import { useRehydrate, type BackupRecord } from "../api/backups";

export function isArchived(error: unknown): boolean {
  return error instanceof ApiError && error.code === "archived";
}

export function ArchivedNotice({ record, error, title }: { record: BackupRecord; error: unknown; title: string }) {
  const operator = useCan("operator");
  const rehydrate = useRehydrate(record);
  if (!isArchived(error)) return <ErrorMessage error={error} title={title} />;
  return (
    <div className="notice warn" role="alert" data-testid="archived-notice">
      <p>
        <strong>{title}: the backup is archived.</strong> {(error as ApiError).message}
      </p>
      {rehydrate.data ? (
        <p role="status">{rehydrate.data.message}</p>
      ) : operator ? (
        <button type="button" onClick={() => rehydrate.mutate(undefined)} disabled={rehydrate.isPending}>
          {rehydrate.isPending ? "Rehydrating…" : "Rehydrate"}
        </button>
      ) : null}
      {rehydrate.error ? <ErrorMessage error={rehydrate.error} title="Not rehydrated" /> : null}
    </div>
  );
}
