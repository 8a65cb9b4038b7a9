// The jobs running now (backups, verifications, restores), and cancelling one.
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";

import { api, unwrap } from "@/lib/api-client";
import type { components } from "@/types/api";

export type JobInProgress = components["schemas"]["JobProgress"];

/** Running jobs, polled every two seconds while any runs (every ten otherwise). */
export function useRunningJobs() {
  return useQuery({
    queryKey: ["jobs", "running"],
    queryFn: () => unwrap(api.GET("/jobs")),
    refetchInterval: (query) => ((query.state.data?.items.length ?? 0) > 0 ? 2000 : 10_000),
  });
}

// What the API may cancel: a backup (its dump stops, nothing is stored) or a verification.
// A restore cannot be: stopped halfway it would leave a partly restored database.
const CANCELLABLE_KINDS = new Set(["backup", "verify"]);
const CANCELLABLE_NAMES = new Set(["backup_database", "verify_backup"]);

/** `kind` as /api/jobs names it (backup, verify) or a job's `name` (backup_database…). */
export function cancellable(kindOrName: string | null | undefined): boolean {
  return Boolean(kindOrName && (CANCELLABLE_KINDS.has(kindOrName) || CANCELLABLE_NAMES.has(kindOrName)));
}

export function useCancelJob() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (instanceId: string) =>
      unwrap(api.POST("/jobs/{instance_id}/cancel", { params: { path: { instance_id: instanceId } } })),
    onSettled: (_data, _error, instanceId) => {
      for (const key of [["jobs"], ["job", instanceId], ["backups"], ["overview"], ["calendar"], ["status"]]) {
        void client.invalidateQueries({ queryKey: key });
      }
    },
  });
}
