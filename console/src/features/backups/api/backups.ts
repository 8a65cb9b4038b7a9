import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";

import { api, unwrap } from "@/lib/api-client";
import type { components, operations } from "@/types/api";

export type BackupRecord = components["schemas"]["BackupRecord"];
export type BackupFilters = NonNullable<operations["list_backups"]["parameters"]["query"]>;
export type RestoreBody = components["schemas"]["RestoreBody"];
export type DownloadLink = components["schemas"]["DownloadLink"];

export function useBackups(filters: BackupFilters) {
  return useQuery({
    queryKey: ["backups", filters],
    queryFn: () => unwrap(api.GET("/backups", { params: { query: filters } })),
    placeholderData: (previous) => previous,
  });
}

function path(record: BackupRecord) {
  return { params: { path: { database_id: record.database_id, backup_id: record.id } } };
}

export function startVerify(record: BackupRecord) {
  return unwrap(api.POST("/backups/{database_id}/{backup_id}/verify", path(record)));
}

export function useRestore(record: BackupRecord) {
  return useMutation({
    mutationFn: (body: RestoreBody) =>
      unwrap(api.POST("/backups/{database_id}/{backup_id}/restore", { ...path(record), body })),
  });
}

export function deleteBackup(record: BackupRecord) {
  return unwrap(api.DELETE("/backups/{database_id}/{backup_id}", path(record)));
}

export function useDownload() {
  return useMutation({
    mutationFn: (record: BackupRecord) => unwrap(api.GET("/backups/{database_id}/{backup_id}/download", path(record))),
    onSuccess: (link) => {
      // A navigation, not a fetch: the signed link is for this one blob, valid one hour.
      window.location.assign(link.url);
    },
  });
}

function useBackupChange<T, R>(change: (variables: T) => Promise<R>) {
  const client = useQueryClient();
  return useMutation({
    mutationFn: change,
    onSuccess: () => client.invalidateQueries({ queryKey: ["backups"] }),
  });
}

/** Sets (true) or clears (false) the legal hold of one backup (admins; audited). */
export function useLegalHold(record: BackupRecord) {
  return useBackupChange((hold: boolean) =>
    unwrap(
      hold
        ? api.PUT("/backups/{database_id}/{backup_id}/legal-hold", path(record))
        : api.DELETE("/backups/{database_id}/{backup_id}/legal-hold", path(record)),
    ),
  );
}

/** Moves an archived backup back to the Hot tier (operators; up to 15 hours on Azure). */
export function useRehydrate(record: BackupRecord) {
  return useBackupChange(() => unwrap(api.POST("/backups/{database_id}/{backup_id}/rehydrate", path(record))));
}

export function useDeleteBackup(record: BackupRecord) {
  return useBackupChange(() => deleteBackup(record));
}

export function useInvalidateBackups() {
  const client = useQueryClient();
  return () => client.invalidateQueries({ queryKey: ["backups"] });
}
