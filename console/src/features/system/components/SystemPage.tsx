import { PageHeader, Section } from "@/components/PageHeader";
import { QueryState } from "@/components/QueryState";
import { StatusBadge } from "@/components/StatusBadge";
import { useCaller } from "@/lib/caller";
import { formatTime } from "@/lib/format";
import type { components } from "@/types/api";

import { useSystem } from "../api/system";

type Check = components["schemas"]["Check"];

function CheckRow({ check }: { check: Check }) {
  const status = check.ok === null || check.ok === undefined ? "upcoming" : check.ok ? "succeeded" : "failed";
  const label = check.ok === null || check.ok === undefined ? "n/a" : check.ok ? "ok" : "failing";
  return (
    <tr>
      <th scope="row">{check.name}</th>
      <td><StatusBadge status={status} label={label} /></td>
      <td>{check.message}</td>
      <td>{check.latency_ms !== null && check.latency_ms !== undefined ? `${check.latency_ms} ms` : check.at ? formatTime(check.at) : ""}</td>
    </tr>
  );
}

function Checks({ caption, checks, empty }: { caption: string; checks: Check[]; empty: string }) {
  if (!checks.length) return <p className="empty">{empty}</p>;
  return (
    <div className="table-wrap">
      <table>
        <caption className="visually-hidden">{caption}</caption>
        <thead>
          <tr>
            <th scope="col">What</th>
            <th scope="col">State</th>
            <th scope="col">Detail</th>
            <th scope="col">Latency / when</th>
          </tr>
        </thead>
        <tbody>
          {checks.map((check) => (
            <CheckRow key={check.name} check={check} />
          ))}
        </tbody>
      </table>
    </div>
  );
}

export function SystemPage() {
  const system = useSystem();
  const caller = useCaller();
  return (
    <>
      <PageHeader title="Settings & status" lead="The configuration in force (never a secret), versions, and the health of what the service depends on." />
      <QueryState query={system} what="the status">
        {(report) => (
          <>
            <Section title="Dependencies">
              <Checks caption="Dependencies" checks={[...report.dependencies, report.network]} empty="" />
            </Section>
            <Section title="Database servers: last connection test">
              <Checks caption="Servers" checks={report.servers} empty="No server yet." />
            </Section>
            <div className="grid-2">
              <Section title="Versions">
                <dl className="pairs">
                  {Object.entries(report.versions).map(([name, version]) => (
                    <div key={name}>
                      <dt>{name}</dt>
                      <dd>{version ?? "unknown"}</dd>
                    </div>
                  ))}
                  {report.tools.map((tool, index) => (
                    <div key={`${tool.name}-${index}`}>
                      <dt>{tool.name}</dt>
                      <dd>{tool.version ?? "not found"}{tool.source && tool.version ? ` (${tool.source})` : ""}</dd>
                    </div>
                  ))}
                </dl>
              </Section>
              <Section title="Configuration">
                <dl className="pairs">
                  {report.configuration.map((setting) => (
                    <div key={setting.name}>
                      <dt>{setting.name}</dt>
                      <dd>{setting.value ?? <span className="muted">not set</span>}</dd>
                    </div>
                  ))}
                </dl>
              </Section>
            </div>
            <Section title="People and roles">
              <p>{String(report.roles.how ?? "")}</p>
              <ul className="plain-list">
                <li><strong>Backup.Reader</strong>: sees everything but the audit log; changes nothing.</li>
                <li><strong>Backup.Operator</strong>: also backs up now, verifies, downloads, tests connections and discovers databases.</li>
                <li><strong>Backup.Admin</strong>: also changes servers, databases and policies, deletes backups, restores, and reads the audit log.</li>
              </ul>
              {caller.mode === "development" ? <p className="muted">{String(report.roles.development ?? "")}</p> : null}
            </Section>
          </>
        )}
      </QueryState>
    </>
  );
}
