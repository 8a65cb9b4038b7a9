import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";

import { api, unwrap } from "@/lib/api-client";
import type { components } from "@/types/api";

export type PolicyCreate = components["schemas"]["PolicyCreate"];
export type PolicyUpdate = components["schemas"]["PolicyUpdate"];
export type PolicyPreviewBody = components["schemas"]["PolicyDraft"];

export function usePolicy(policyId: string | null) {
  return useQuery({
    queryKey: ["policies", policyId],
    enabled: policyId !== null,
    queryFn: () => unwrap(api.GET("/policies/{policy_id}", { params: { path: { policy_id: policyId ?? "" } } })),
  });
}

/** The next slots of the policy as typed (nothing saved); errors name their fields. */
export function useSlotPreview(body: PolicyPreviewBody, enabled: boolean) {
  return useQuery({
    queryKey: ["policy-preview", body],
    enabled,
    queryFn: () => unwrap(api.POST("/policy-preview", { body })),
    placeholderData: (previous) => previous,
    retry: false,
  });
}

export function useSavePolicy(policyId: string | null) {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (body: Record<string, unknown>) =>
      policyId === null
        ? unwrap(api.POST("/policies", { body: body as PolicyCreate }))
        : unwrap(api.PATCH("/policies/{policy_id}", { params: { path: { policy_id: policyId } }, body: body as PolicyUpdate })),
    onSuccess: () => client.invalidateQueries({ queryKey: ["policies"] }),
  });
}

export function useDeletePolicy(policyId: string) {
  const client = useQueryClient();
  return useMutation({
    mutationFn: () => unwrap(api.DELETE("/policies/{policy_id}", { params: { path: { policy_id: policyId } } })),
    onSuccess: () => client.invalidateQueries({ queryKey: ["policies"] }),
  });
}
