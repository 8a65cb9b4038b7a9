import { useQuery } from "@tanstack/react-query";

import { api, unwrap } from "@/lib/api-client";
import type { components } from "@/types/api";

export type Overview = components["schemas"]["Overview"];
export type DatabaseHealth = components["schemas"]["DatabaseHealth"];

export function useOverview() {
  return useQuery({ queryKey: ["overview"], queryFn: () => unwrap(api.GET("/overview")), refetchInterval: 30_000 });
}

export function useStatus() {
  return useQuery({ queryKey: ["status"], queryFn: () => unwrap(api.GET("/status")), refetchInterval: 30_000 });
}
