// Lists several pages need: servers, databases and policies (each read in full, page by page).
import { useQuery } from "@tanstack/react-query";

import { api, unwrap } from "@/lib/api-client";
import type { components } from "@/types/api";

export type Server = components["schemas"]["Server"];
export type Database = components["schemas"]["Database"];
export type Policy = components["schemas"]["Policy"];

async function all<T>(load: (continuation?: string) => Promise<{ items: T[]; continuation?: string | null }>) {
  const items: T[] = [];
  let continuation: string | undefined;
  do {
    const page = await load(continuation);
    items.push(...page.items);
    continuation = page.continuation ?? undefined;
  } while (continuation);
  return items;
}

export function useServers() {
  return useQuery({
    queryKey: ["servers"],
    queryFn: () =>
      all((continuation) =>
        unwrap(api.GET("/servers", { params: { query: { page_size: 200, continuation } } })),
      ),
  });
}

export function useDatabases(serverId?: string) {
  return useQuery({
    queryKey: ["databases", serverId ?? "all"],
    queryFn: () =>
      all((continuation) =>
        unwrap(
          api.GET("/databases", {
            params: { query: { page_size: 200, continuation, server_id: serverId } },
          }),
        ),
      ),
  });
}

export function usePolicies() {
  return useQuery({
    queryKey: ["policies"],
    queryFn: () =>
      all((continuation) =>
        unwrap(api.GET("/policies", { params: { query: { page_size: 200, continuation } } })),
      ),
  });
}
