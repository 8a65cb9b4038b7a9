import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";

import { api, unwrap } from "@/lib/api-client";
import type { components } from "@/types/api";

export type Key = components["schemas"]["ServiceIdentity"];
export type RetireReport = components["schemas"]["RetireReport"];

export function useKeys() {
  return useQuery({ queryKey: ["keys"], queryFn: () => unwrap(api.GET("/keys")) });
}

export function useRotateKey() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: () => unwrap(api.POST("/keys/rotate")),
    onSuccess: () => client.invalidateQueries({ queryKey: ["keys"] }),
  });
}

/** The dry run: which backups the service could no longer read once the key is retired. */
export function useRetirePreview(keyId: string) {
  return useQuery({
    queryKey: ["keys", keyId, "retire-preview"],
    queryFn: () =>
      unwrap(api.POST("/keys/{key_id}/retire", { params: { path: { key_id: keyId } }, body: { dry_run: true } })),
    staleTime: 0,
    gcTime: 0,
    retry: false,
  });
}

export function useRetireKey(keyId: string) {
  const client = useQueryClient();
  return useMutation({
    mutationFn: () =>
      unwrap(api.POST("/keys/{key_id}/retire", { params: { path: { key_id: keyId } }, body: { dry_run: false } })),
    onSuccess: () => client.invalidateQueries({ queryKey: ["keys"] }),
  });
}
