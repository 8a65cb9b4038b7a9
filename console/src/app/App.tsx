// Start-up: learn how to sign in, sign in if needed, learn the caller's role, then route.
import { QueryClientProvider, useQuery } from "@tanstack/react-query";
import { useEffect, useState } from "react";
import { RouterProvider } from "react-router";

import { ErrorMessage, Loading } from "@/components/QueryState";
import { api, setSession, unwrap } from "@/lib/api-client";
import { startAuth, type AuthState, type Session } from "@/lib/auth";
import { CallerProvider } from "@/lib/caller";
import { queryClient } from "@/lib/query-client";
import { roleFromClaim } from "@/lib/roles";

import { router } from "./router";

export function App() {
  const [auth, setAuth] = useState<AuthState | null>(null);
  useEffect(() => {
    void startAuth().then((state) => {
      if (state.kind === "ready") setSession(state.session);
      setAuth(state);
    });
  }, []);
  if (auth === null) return <Splash><Loading what="Starting" /></Splash>;
  if (auth.kind === "unavailable") {
    return (
      <Splash>
        <div className="error-box" role="alert">{auth.reason}</div>
      </Splash>
    );
  }
  if (auth.kind === "signed-out") {
    return (
      <Splash>
        <p>Sign in with your organisation's Microsoft account to use the console.</p>
        <button type="button" className="primary" onClick={() => void auth.signIn()}>
          Sign in
        </button>
      </Splash>
    );
  }
  return (
    <QueryClientProvider client={queryClient}>
      <WithCaller session={auth.session} />
    </QueryClientProvider>
  );
}

function WithCaller({ session }: { session: Session }) {
  const me = useQuery({ queryKey: ["me"], queryFn: () => unwrap(api.GET("/me")), staleTime: 300_000 });
  if (me.error) {
    return (
      <Splash>
        <ErrorMessage error={me.error} title="You cannot use the console yet" />
        <p>
          Your account needs one of the roles Backup.Reader, Backup.Operator or Backup.Admin on the API's
          app registration. Ask an administrator to assign one.
        </p>
        {session.mode === "entra" ? (
          <button type="button" onClick={() => void session.signOut()}>Sign out</button>
        ) : null}
      </Splash>
    );
  }
  if (!me.data) return <Splash><Loading what="Signing in" /></Splash>;
  const caller = {
    name: me.data.name ?? session.accountName,
    role: roleFromClaim(me.data.role),
    mode: session.mode,
    signOut: session.signOut,
  };
  return (
    <CallerProvider value={caller}>
      <RouterProvider router={router} />
    </CallerProvider>
  );
}

function Splash({ children }: { children: React.ReactNode }) {
  return (
    <main className="splash">
      <h1>Dilux Backup</h1>
      {children}
    </main>
  );
}
