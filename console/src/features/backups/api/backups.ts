import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";

import { api, unwrap } from "@/lib/api-client";
import type { components, operations } from "@/types/api";

export type BackupRecord = components["schemas"]["BackupRecord"];
export type BackupFilters = NonNullable<operations["list_backups"]["parameters"]["query"]>;
export type RestoreBody = components["schemas"]["RestoreBody"];

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

export function useBackup(databaseId: string, backupId: string) {
  return useQuery({
    queryKey: ["backup", databaseId, backupId],
    queryFn: () => unwrap(api.GET("/backups/{database_id}/{backup_id}", { params: { path: { database_id: databaseId, backup_id: backupId } } })),
  });
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

export function useInvalidateBackups() {
  const client = useQueryClient();
  return () => client.invalidateQueries({ queryKey: ["backups"] });
}
