import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";

import { api, unwrap } from "@/lib/api-client";
import type { components } from "@/types/api";

export type ServerCreate = components["schemas"]["ServerCreate"];
export type ServerUpdate = components["schemas"]["ServerUpdate"];
export type ConnectionTestResult = components["schemas"]["ConnectionTestResult"];
export type DiscoveryResult = components["schemas"]["DiscoveryResult"];
export type DatabaseToAdd = components["schemas"]["DatabaseToAdd"];

export function useServer(serverId: string) {
  return useQuery({
    queryKey: ["servers", serverId],
    queryFn: () => unwrap(api.GET("/servers/{server_id}", { params: { path: { server_id: serverId } } })),
  });
}

export function useCreateServer() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (body: ServerCreate) => unwrap(api.POST("/servers", { body })),
    onSuccess: () => client.invalidateQueries({ queryKey: ["servers"] }),
  });
}

export function useUpdateServer(serverId: string) {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (body: ServerUpdate) =>
      unwrap(api.PATCH("/servers/{server_id}", { params: { path: { server_id: serverId } }, body })),
    onSuccess: () => client.invalidateQueries({ queryKey: ["servers"] }),
  });
}

export function useDeleteServer(serverId: string) {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (cascade: boolean) =>
      unwrap(
        api.DELETE("/servers/{server_id}", {
          params: { path: { server_id: serverId }, query: { cascade, with_backups: false } },
        }),
      ),
    onSuccess: () => client.invalidateQueries(),
  });
}

export function useTestServer(serverId: string) {
  return useMutation({
    mutationFn: () =>
      unwrap(api.POST("/servers/{server_id}/test", { params: { path: { server_id: serverId } }, body: {} })),
  });
}

export function useDiscover(serverId: string) {
  return useMutation({
    mutationFn: () => unwrap(api.GET("/servers/{server_id}/discover", { params: { path: { server_id: serverId } } })),
  });
}

export function useAddDatabases(serverId: string) {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (databases: DatabaseToAdd[]) =>
      unwrap(api.POST("/servers/{server_id}/databases", { params: { path: { server_id: serverId } }, body: { databases } })),
    onSuccess: () => client.invalidateQueries(),
  });
}
