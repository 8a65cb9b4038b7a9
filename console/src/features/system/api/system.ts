import { useQuery } from "@tanstack/react-query";

import { api, unwrap } from "@/lib/api-client";

export function useSystem() {
  return useQuery({ queryKey: ["system"], queryFn: () => unwrap(api.GET("/system")) });
}
