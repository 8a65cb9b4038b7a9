// Who is using the console and what their role lets them do. Buttons a role cannot use are
// not shown (the API still checks every call).
import { createContext, useContext, type ReactNode } from "react";

import { allows, type Role } from "./roles";

export interface Caller {
  name: string | null;
  role: Role | null;
  mode: "development" | "entra";
  signOut: () => Promise<void>;
}

const CallerContext = createContext<Caller>({
  name: null,
  role: null,
  mode: "development",
  signOut: async () => undefined,
});

export const CallerProvider = CallerContext.Provider;

export function useCaller(): Caller {
  return useContext(CallerContext);
}

export function useCan(needed: Role): boolean {
  return allows(useCaller().role, needed);
}

/** Renders its children only for callers holding at least `role`. */
export function Can({ role, children }: { role: Role; children: ReactNode }) {
  return useCan(role) ? <>{children}</> : null;
}
