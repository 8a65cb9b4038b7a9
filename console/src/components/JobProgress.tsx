// A job followed live: its state, phase and elapsed time, then its outcome.
import type { ReactNode } from "react";

import { isRunning, phaseOf, useJob, type JobStatus } from "@/hooks/use-job";
import { formatDuration, secondsBetween } from "@/lib/format";

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
  if (job.error) return <ErrorMessage error={job.error} title={`Could not follow the ${label}`} />;
  const data = job.data;
  const running = isRunning(data);
  const phase = phaseOf(data);
  const end = running ? new Date() : new Date(data?.last_updated_time ?? Date.now());
  const elapsed = secondsBetween(data?.created_time, end);
  return (
    <div className="job" aria-live="polite" data-testid="job-progress" data-state={data?.runtime_status ?? "Pending"}>
      <div className="job-line">
        <strong>{label}</strong> <StatusBadge status={data?.runtime_status ?? "Pending"} />
        {phase ? <span className="muted"> — {phase}</span> : null}
        <span className="muted"> · {formatDuration(elapsed)}</span>
      </div>
      {running ? <progress aria-label={`${label} in progress`} /> : null}
      {data && !running && children ? children(data) : null}
    </div>
  );
}
