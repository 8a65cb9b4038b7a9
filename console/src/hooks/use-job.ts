// A durable job (backup, verify, restore) followed until it ends: polled every second while
// its `result` is running, then left alone. The API's `result` (running, succeeded, failed,
// cancelled) is what the console shows: a failed backup is "Completed" for the runtime too.
import { useQuery } from "@tanstack/react-query";

import { api, unwrap } from "@/lib/api-client";
import type { components } from "@/types/api";

export type JobStatus = components["schemas"]["JobStatus"];

export function isRunning(job: JobStatus | undefined): boolean {
  return !job || job.result === "running";
}

export function useJob(instanceId: string | null) {
  return useQuery({
    queryKey: ["job", instanceId],
    enabled: instanceId !== null,
    queryFn: () =>
      unwrap(api.GET("/jobs/{instance_id}", { params: { path: { instance_id: instanceId ?? "" } } })),
    refetchInterval: (query) => (isRunning(query.state.data) ? 1000 : false),
  });
}

/** The phase a job reports in its custom status, if any. */
export function phaseOf(job: JobStatus | undefined): string | null {
  const custom = job?.custom_status as { phase?: unknown } | null | undefined;
  return custom && typeof custom.phase === "string" ? custom.phase : null;
}
