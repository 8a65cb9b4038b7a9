import { useState } from "react";
import { Link, useNavigate, useParams } from "react-router";

import { Dialog } from "@/components/Dialog";
import { PageHeader, Section } from "@/components/PageHeader";
import { ErrorMessage, QueryState } from "@/components/QueryState";
import { StatusBadge } from "@/components/StatusBadge";
import { useDatabases } from "@/hooks/use-catalog";
import { Can } from "@/lib/caller";

import { useDeleteServer, useServer, useTestServer, useUpdateServer, type ConnectionTestResult, type ServerUpdate } from "../api/servers";
import { NEXT_STEP, OUTCOME_LABELS } from "../connection";
import { Discovery } from "./Discovery";
import { ServerForm } from "./ServerForm";

export function ServerPage() {
  const { serverId = "" } = useParams();
  const server = useServer(serverId);
  const databases = useDatabases(serverId);
  const test = useTestServer(serverId);
  const update = useUpdateServer(serverId);
  const remove = useDeleteServer(serverId);
  const [editing, setEditing] = useState(false);
  const navigate = useNavigate();
  return (
    <QueryState query={server} what="the server">
      {(data) => (
        <>
          <PageHeader title={data.name} lead={`${data.engine} at ${data.host}:${data.port} · TLS ${data.tls_mode}`}>
            <Can role="operator">
              <button type="button" onClick={() => test.mutate()} disabled={test.isPending}>
                {test.isPending ? "Testing…" : "Test connection"}
              </button>
            </Can>
            <Can role="admin">
              <button type="button" onClick={() => { update.reset(); setEditing(true); }}>Edit</button>
              <button
                type="button"
                className="danger"
                onClick={() => {
                  if (window.confirm(`Delete server ${data.name}? Its databases must be removed first.`)) {
                    remove.mutate(false, { onSuccess: () => void navigate("/servers") });
                  }
                }}
              >
                Delete
              </button>
            </Can>
          </PageHeader>
          {remove.error ? <ErrorMessage error={remove.error} title="Not deleted" /> : null}
          {test.error ? <ErrorMessage error={test.error} title="The test could not run" /> : null}
          {test.data ? <ConnectionTest result={test.data} /> : null}
          <Section title="Databases on this server">
            <QueryState query={databases} what="databases">
              {(items) =>
                items.length ? (
                  <ul className="plain-list">
                    {items.map((database) => (
                      <li key={database.id}>
                        <Link to={`/databases/${database.id}`}>{database.display_name ?? database.name}</Link>{" "}
                        <span className="muted">({database.id}{database.enabled ? "" : ", disabled"})</span>
                      </li>
                    ))}
                  </ul>
                ) : (
                  <p className="empty">No database added yet: discover them below.</p>
                )
              }
            </QueryState>
          </Section>
          <Can role="operator">
            <Discovery serverId={serverId} defaultPolicy={data.default_policy_id ?? null} />
          </Can>
          <Dialog open={editing} title={`Edit ${data.name}`} onClose={() => setEditing(false)}>
            <ServerForm
              server={data}
              submitLabel="Save"
              pending={update.isPending}
              error={update.error}
              onSubmit={(body) => update.mutate(body as ServerUpdate, { onSuccess: () => setEditing(false) })}
            />
          </Dialog>
        </>
      )}
    </QueryState>
  );
}

function ConnectionTest({ result }: { result: ConnectionTestResult }) {
  return (
    <div className={`notice ${result.ok ? "good" : "bad"}`} role="status" data-testid="connection-test" data-outcome={result.outcome}>
      <p>
        <StatusBadge status={result.ok ? "succeeded" : "failed"} label={OUTCOME_LABELS[result.outcome]} />{" "}
        {result.ok
          ? `${result.server_version ?? "The server"} answered in ${Math.round(result.latency_ms ?? 0)} ms.`
          : `${result.message.charAt(0).toUpperCase()}${result.message.slice(1)}.`}
      </p>
      <p className="muted">{NEXT_STEP[result.outcome]}</p>
    </div>
  );
}
