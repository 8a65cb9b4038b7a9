// How the console learns who may call the API: it asks the API (anonymously) how sign-in
// works here, then either needs nothing (development mode, loopback only) or signs the
// person in with Microsoft Entra ID (MSAL, loaded only in that case).
import type { components } from "@/types/api";

export type ConsoleConfig = components["schemas"]["ConsoleConfig"];

export interface Session {
  mode: "development" | "entra";
  accountName: string | null;
  /** A bearer token for the API, or null when none is needed. */
  token(): Promise<string | null>;
  signOut(): Promise<void>;
}

export type AuthState =
  | { kind: "ready"; session: Session }
  | { kind: "signed-out"; signIn: () => Promise<void> }
  | { kind: "unavailable"; reason: string };

const DEVELOPMENT: Session = {
  mode: "development",
  accountName: null,
  token: async () => null,
  signOut: async () => undefined,
};

export async function loadConsoleConfig(): Promise<ConsoleConfig> {
  const response = await fetch("/api/console-config", { headers: { Accept: "application/json" } });
  if (!response.ok) throw new Error(`the console settings could not be read (${response.status})`);
  return (await response.json()) as ConsoleConfig;
}

export async function startAuth(): Promise<AuthState> {
  let config: ConsoleConfig;
  try {
    config = await loadConsoleConfig();
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    return { kind: "unavailable", reason: `The service could not be reached: ${reason}` };
  }
  if (config.auth_mode === "development") return { kind: "ready", session: DEVELOPMENT };
  if (config.auth_mode !== "entra") {
    return {
      kind: "unavailable",
      reason: "Sign-in is not configured on this service (AUTH_MODE, ENTRA_TENANT_ID, ENTRA_AUDIENCE).",
    };
  }
  if (!config.sign_in_ready) {
    return {
      kind: "unavailable",
      reason: "The console has no app registration yet: set ENTRA_CONSOLE_CLIENT_ID (see the README).",
    };
  }
  const { startEntra } = await import("./msal");
  return startEntra(config);
}
