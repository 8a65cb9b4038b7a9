// A job followed live: its result (running, succeeded, failed, cancelled), phase and
// elapsed time, a way to cancel it while it runs (backups and verifications, operators),
// then its outcome.
import type { ReactNode } from "react";

import { isRunning, phaseOf, useJob, type JobStatus } from "@/hooks/use-job";
import { useNow } from "@/hooks/use-now";
import { cancellable } from "@/hooks/use-running-jobs";
import { formatDuration, secondsBetween } from "@/lib/format";

import { CancelJob } from "./CancelJob";
import { ErrorMessage } from "./QueryState";
import { StatusBadge } from "./StatusBadge";

export function JobProgress({
  instanceId,
  label,
  children,
}: {
  instanceId: string;
  label: string;
  children?: (job: JobStatus) => ReactNode;
}) {
  const job = useJob(instanceId);
  const now = useNow(isRunning(job.data) && !job.error);
  if (job.error) return <ErrorMessage error={job.error} title={`Could not follow the ${label.toLowerCase()}`} />;
  const data = job.data;
  const running = isRunning(data);
  const result = data?.result ?? "running";
  const phase = phaseOf(data);
  const end = running ? now : new Date(data?.last_updated_time ?? Date.now());
  const elapsed = secondsBetween(data?.created_time, end);
  return (
    <div className="job" aria-live="polite" data-testid="job-progress" data-state={result}>
      <div className="job-line">
        <strong>{label}</strong> <StatusBadge status={result} />
        {phase && running ? <span className="muted"> — {phase}</span> : null}
        <span className="muted"> · {formatDuration(elapsed)}</span>
        {running && data && cancellable(data.name) ? (
          <span className="job-actions">
            <CancelJob instanceId={instanceId} what={label.toLowerCase()} backup={data.name === "backup_database"} />
          </span>
        ) : null}
      </div>
      {running ? <progress aria-label={`${label} in progress`} /> : null}
      {data && !running && result === "cancelled" ? (
        <p data-testid="job-cancelled">Cancelled: the job was stopped before it finished{data.name === "backup_database" ? "; nothing was stored" : ""}.</p>
      ) : null}
      {data && !running && result !== "cancelled" && children ? children(data) : null}
    </div>
  );
}
