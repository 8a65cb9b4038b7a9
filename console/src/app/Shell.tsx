import { Suspense } from "react";
import { NavLink, Outlet, useNavigation } from "react-router";

import { Loading } from "@/components/QueryState";
import { useCaller, useCan } from "@/lib/caller";

const LINKS: { to: string; label: string; admin?: boolean }[] = [
  { to: "/", label: "Overview" },
  { to: "/history", label: "History" },
  { to: "/servers", label: "Servers" },
  { to: "/databases", label: "Databases" },
  { to: "/backups", label: "Backups" },
  { to: "/policies", label: "Policies" },
  { to: "/storage", label: "Storage" },
  { to: "/keys", label: "Encryption keys" },
  { to: "/audit", label: "Audit", admin: true },
  { to: "/system", label: "Settings & status" },
];

const ROLE_NAMES = { reader: "Reader", operator: "Operator", admin: "Admin" } as const;

export function Shell() {
  const caller = useCaller();
  const admin = useCan("admin");
  const navigation = useNavigation();
  return (
    <div className="shell">
      <a className="skip-link" href="#main">Skip to content</a>
      <header className="topbar">
        <span className="brand">Dilux Backup</span>
        <span className="who">
          {caller.name ?? (caller.mode === "development" ? "local developer" : "signed in")}
          {caller.role ? <span className="badge info">{ROLE_NAMES[caller.role]}</span> : null}
          {caller.mode === "development" ? <span className="badge muted">development mode</span> : null}
          {caller.mode === "entra" ? (
            <button type="button" className="ghost" onClick={() => void caller.signOut()}>Sign out</button>
          ) : null}
        </span>
      </header>
      <nav className="sidebar" aria-label="Main">
        <ul>
          {LINKS.filter((link) => !link.admin || admin).map((link) => (
            <li key={link.to}>
              <NavLink to={link.to} end={link.to === "/"}>{link.label}</NavLink>
            </li>
          ))}
        </ul>
      </nav>
      <main id="main" className="content" aria-busy={navigation.state === "loading"}>
        <Suspense fallback={<Loading />}>
          <Outlet />
        </Suspense>
      </main>
    </div>
  );
}
