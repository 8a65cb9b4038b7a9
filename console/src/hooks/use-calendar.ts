import { useQuery } from "@tanstack/react-query";

import { api, unwrap } from "@/lib/api-client";
import type { components } from "@/types/api";

export type CalendarCell = components["schemas"]["CalendarCell"];
export type CalendarRow = components["schemas"]["CalendarRow"];

export function useCalendar(databaseId?: string, days = 14) {
  return useQuery({
    queryKey: ["calendar", databaseId ?? "all", days],
    queryFn: () => {
      const from = new Date(Date.now() - days * 86_400_000).toISOString();
      return unwrap(api.GET("/calendar", { params: { query: { database_id: databaseId, from } } }));
    },
    refetchInterval: 15_000,
  });
}
