import { useQuery } from "@tanstack/react-query";

import { api, unwrap } from "@/lib/api-client";
import type { operations } from "@/types/api";

export type AuditFilters = NonNullable<operations["list_audit_entries"]["parameters"]["query"]>;

export function useAudit(filters: AuditFilters, enabled: boolean) {
  return useQuery({
    queryKey: ["audit", filters],
    enabled,
    queryFn: () => unwrap(api.GET("/audit", { params: { query: filters } })),
    placeholderData: (previous) => previous,
  });
}
