// Discover the server's databases, pick some, give them a policy, add them.
import { useState } from "react";

import { Section } from "@/components/PageHeader";
import { ErrorMessage } from "@/components/QueryState";
import { usePolicies } from "@/hooks/use-catalog";
import { Can } from "@/lib/caller";
import { formatBytes } from "@/lib/format";

import { useAddDatabases, useDiscover } from "../api/servers";

export function Discovery({ serverId, defaultPolicy }: { serverId: string; defaultPolicy: string | null }) {
  const discover = useDiscover(serverId);
  const add = useAddDatabases(serverId);
  const policies = usePolicies();
  const [chosen, setChosen] = useState<Record<string, boolean>>({});
  const [policy, setPolicy] = useState<string>("");
  const candidates = (discover.data?.databases ?? []).filter((item) => !item.added && !item.is_system);
  const picked = candidates.filter((item) => chosen[item.name]);
  return (
    <Section
      title="Discover databases"
      actions={
        <button type="button" onClick={() => { add.reset(); discover.mutate(); }} disabled={discover.isPending}>
          {discover.isPending ? "Discovering…" : "Discover"}
        </button>
      }
    >
      {discover.error ? <ErrorMessage error={discover.error} title="Discovery failed" /> : null}
      {discover.data ? (
        <>
          <ul className="plain-list discovered">
            {discover.data.databases.map((item) => (
              <li key={item.name}>
                <label>
                  <input
                    type="checkbox"
                    disabled={item.added || item.is_system}
                    checked={Boolean(chosen[item.name]) || item.added}
                    onChange={(event) => setChosen((current) => ({ ...current, [item.name]: event.target.checked }))}
                  />{" "}
                  {item.name}
                </label>{" "}
                <span className="muted">
                  {formatBytes(item.size_bytes)}
                  {item.added ? " · already added" : ""}
                  {item.is_system ? " · system database" : ""}
                </span>
              </li>
            ))}
          </ul>
          <Can role="admin">
            {candidates.length ? (
              <div className="row">
                <div className="field">
                  <label htmlFor="discovery-policy">Policy for the added databases</label>
                  <select id="discovery-policy" value={policy} onChange={(event) => setPolicy(event.target.value)}>
                    <option value="">the server's default ({defaultPolicy ?? "none"})</option>
                    {(policies.data ?? []).map((item) => (
                      <option key={item.id} value={item.id}>{item.name}</option>
                    ))}
                  </select>
                </div>
                <button
                  type="button"
                  className="primary"
                  disabled={picked.length === 0 || add.isPending}
                  onClick={() =>
                    add.mutate(
                      picked.map((item) => ({ name: item.name, policy_id: policy || null, enabled: true })),
                      { onSuccess: () => { setChosen({}); discover.mutate(); } },
                    )
                  }
                >
                  Add {picked.length || ""} database{picked.length === 1 ? "" : "s"}
                </button>
              </div>
            ) : (
              <p className="muted">Every user database of this server is added.</p>
            )}
            {add.error ? <ErrorMessage error={add.error} title="Not added" /> : null}
            {add.data ? (
              <p role="status" className="notice good">
                Added {add.data.created.map((database) => database.id).join(", ")}
                {add.data.failed.length ? `; not added: ${add.data.failed.map((f) => `${f.name} (${f.message})`).join(", ")}` : ""}
              </p>
            ) : null}
          </Can>
        </>
      ) : (
        <p className="muted">Lists the databases the server's stored login can see.</p>
      )}
    </Section>
  );
}
