import { useInfiniteQuery, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";

import { api, unwrap } from "@/lib/api-client";
import type { components } from "@/types/api";

export type DatabaseUpdate = components["schemas"]["DatabaseUpdate"];
export type RetentionPreview = components["schemas"]["RetentionPreview"];
export type BackupRecord = components["schemas"]["BackupRecord"];

export function useDatabase(databaseId: string) {
  return useQuery({
    queryKey: ["databases", "one", databaseId],
    queryFn: () => unwrap(api.GET("/databases/{database_id}", { params: { path: { database_id: databaseId } } })),
  });
}

export function useRetentionPreview(databaseId: string, enabled: boolean) {
  return useQuery({
    queryKey: ["retention", databaseId],
    enabled,
    queryFn: () =>
      unwrap(api.GET("/databases/{database_id}/retention-preview", { params: { path: { database_id: databaseId } } })),
  });
}

export function useDatabaseBackups(databaseId: string, refetchInterval: number | false) {
  return useInfiniteQuery({
    queryKey: ["backups", { database_id: databaseId }],
    initialPageParam: undefined as string | undefined,
    queryFn: ({ pageParam }) =>
      unwrap(api.GET("/backups", { params: { query: { database_id: databaseId, page_size: 20, continuation: pageParam } } })),
    getNextPageParam: (page) => page.continuation ?? undefined,
    refetchInterval,
  });
}

function useChange<T>(databaseId: string, change: (variables: T) => Promise<unknown>) {
  const client = useQueryClient();
  return useMutation({
    mutationFn: change,
    onSuccess: () => {
      void client.invalidateQueries({ queryKey: ["databases"] });
      void client.invalidateQueries({ queryKey: ["retention", databaseId] });
      void client.invalidateQueries({ queryKey: ["calendar"] });
      void client.invalidateQueries({ queryKey: ["overview"] });
    },
  });
}

export function useUpdateDatabase(databaseId: string) {
  return useChange(databaseId, (body: DatabaseUpdate) =>
    unwrap(api.PATCH("/databases/{database_id}", { params: { path: { database_id: databaseId } }, body })),
  );
}

export function useSwitchDatabase(databaseId: string) {
  return useChange(databaseId, (enable: boolean) => {
    const params = { params: { path: { database_id: databaseId } } };
    return unwrap(enable ? api.POST("/databases/{database_id}/enable", params) : api.POST("/databases/{database_id}/disable", params));
  });
}

export function useDeleteDatabase(databaseId: string) {
  return useChange(databaseId, (withBackups: boolean) =>
    unwrap(
      api.DELETE("/databases/{database_id}", {
        params: { path: { database_id: databaseId }, query: { with_backups: withBackups } },
      }),
    ),
  );
}

export function useBackupNow(databaseId: string) {
  const client = useQueryClient();
  return useMutation({
    mutationFn: () =>
      unwrap(api.POST("/databases/{database_id}/backups", { params: { path: { database_id: databaseId } } })),
    onSuccess: () => void client.invalidateQueries({ queryKey: ["jobs"] }),
  });
}

export type DrillRecord = components["schemas"]["DrillRecord"];

export function useDatabaseDrills(databaseId: string, refetchInterval: number | false) {
  return useQuery({
    queryKey: ["drills", databaseId],
    queryFn: () =>
      unwrap(
        api.GET("/databases/{database_id}/drills", {
          params: { path: { database_id: databaseId }, query: { page_size: 10 } },
        }),
      ),
    refetchInterval,
  });
}

export function useDrillNow(databaseId: string) {
  const client = useQueryClient();
  return useMutation({
    mutationFn: () =>
      unwrap(api.POST("/databases/{database_id}/drills", { params: { path: { database_id: databaseId } }, body: {} })),
    onSuccess: () => {
      void client.invalidateQueries({ queryKey: ["jobs"] });
      void client.invalidateQueries({ queryKey: ["drills", databaseId] });
    },
  });
}
