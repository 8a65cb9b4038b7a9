// Entra ID sign-in: authorization code flow with PKCE (MSAL's redirect flow), tokens for the
// API's scope. Loaded on demand: development mode never downloads it.
import {
  InteractionRequiredAuthError,
  PublicClientApplication,
  type AccountInfo,
} from "@azure/msal-browser";

import type { AuthState, ConsoleConfig } from "./auth";

export async function startEntra(config: ConsoleConfig): Promise<AuthState> {
  const authority = config.authority ?? "";
  const scopes = config.scopes ?? [];
  const home = `${window.location.origin}/`;
  const app = new PublicClientApplication({
    auth: {
      clientId: config.client_id ?? "",
      authority,
      knownAuthorities: [new URL(authority).host],
      redirectUri: home,
      postLogoutRedirectUri: home,
    },
    cache: { cacheLocation: "sessionStorage" },
  });
  await app.initialize();
  const result = await app.handleRedirectPromise();
  const account: AccountInfo | null = result?.account ?? app.getAllAccounts()[0] ?? null;
  if (!account) {
    return { kind: "signed-out", signIn: () => app.loginRedirect({ scopes }) };
  }
  app.setActiveAccount(account);
  return {
    kind: "ready",
    session: {
      mode: "entra",
      accountName: account.username || account.name || null,
      async token() {
        try {
          return (await app.acquireTokenSilent({ scopes, account })).accessToken;
        } catch (error) {
          if (error instanceof InteractionRequiredAuthError) {
            await app.acquireTokenRedirect({ scopes, account });
            return new Promise<string>(() => undefined); // the page is navigating away
          }
          throw error;
        }
      },
      signOut: () => app.logoutRedirect({ account }),
    },
  };
}
