import type { ReactNode } from "react";

import { describeError } from "@/lib/errors";

export function Loading({ what = "Loading" }: { what?: string }) {
  return (
    <p className="muted" role="status" aria-live="polite">
      {what}…
    </p>
  );
}

export function ErrorMessage({ error, title = "Something went wrong" }: { error: unknown; title?: string }) {
  return (
    <div className="error-box" role="alert">
      <strong>{title}.</strong> {describeError(error)}
    </div>
  );
}

export function Empty({ children }: { children: ReactNode }) {
  return <p className="empty">{children}</p>;
}

/** Loading, error or the content, for one query. */
export function QueryState<T>({
  query,
  what,
  children,
}: {
  query: { isPending: boolean; error: unknown; data: T | undefined };
  what?: string;
  children: (data: T) => ReactNode;
}) {
  if (query.error) return <ErrorMessage error={query.error} title={`Could not load ${what ?? "this"}`} />;
  if (query.isPending || query.data === undefined) return <Loading what={`Loading ${what ?? ""}`.trim()} />;
  return <>{children(query.data)}</>;
}
