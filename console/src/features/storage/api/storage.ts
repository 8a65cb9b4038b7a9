import { useQuery } from "@tanstack/react-query";

import { api, unwrap } from "@/lib/api-client";

export function useStorage(days: number) {
  return useQuery({
    queryKey: ["storage", days],
    queryFn: () => unwrap(api.GET("/storage", { params: { query: { days } } })),
  });
}
