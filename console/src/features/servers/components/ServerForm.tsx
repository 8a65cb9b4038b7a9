// Add or edit a server. The password is write-only: it is never shown, and left empty on
// an edit it stays as stored. It must be typed again when the host, port or username
// changes or TLS is lowered: the form says so as you edit, and the API refuses (422 at
// the password) otherwise.
import { useState, type FormEvent } from "react";

import { SelectField, TextField } from "@/components/Field";
import { ErrorMessage } from "@/components/QueryState";
import { usePolicies, type Server } from "@/hooks/use-catalog";
import { ApiError } from "@/lib/errors";

import type { ServerCreate } from "../api/servers";
import { passwordNeeded, TLS_MODES } from "../connection";

const DEFAULT_PORTS: Record<string, number> = { postgresql: 5432, mysql: 3306, mariadb: 3306, sqlserver: 1433 };

export interface ServerFormValues {
  name: string;
  id: string;
  engine: ServerCreate["engine"];
  host: string;
  port: string;
  username: string;
  password: string;
  tls_mode: NonNullable<ServerCreate["tls_mode"]>;
  default_policy_id: string;
}

export function initialValues(server?: Server): ServerFormValues {
  return {
    name: server?.name ?? "",
    id: server?.id ?? "",
    engine: server?.engine ?? "postgresql",
    host: server?.host ?? "",
    port: String(server?.port ?? 5432),
    username: server?.username ?? "",
    password: "",
    tls_mode: server?.tls_mode ?? "require",
    default_policy_id: server?.default_policy_id ?? "",
  };
}

/** The request body: empty optional fields left out, the port a number. */
export function toBody(values: ServerFormValues, editing: boolean): Record<string, unknown> {
  const body: Record<string, unknown> = {
    name: values.name.trim(),
    host: values.host.trim(),
    port: Number(values.port),
    username: values.username.trim(),
    tls_mode: values.tls_mode,
    default_policy_id: values.default_policy_id || null,
  };
  if (!editing) {
    body.engine = values.engine;
    if (values.id.trim()) body.id = values.id.trim();
  }
  if (values.password) body.password = values.password;
  return body;
}

export function ServerForm({
  server,
  submitLabel,
  onSubmit,
  pending,
  error,
}: {
  server?: Server;
  submitLabel: string;
  onSubmit: (body: Record<string, unknown>) => void;
  pending: boolean;
  error: unknown;
}) {
  const [values, setValues] = useState(() => initialValues(server));
  const policies = usePolicies();
  const editing = server !== undefined;
  const fields = error instanceof ApiError ? error.fields : {};
  const needed = editing ? passwordNeeded(server, values) : null;
  const set = (name: keyof ServerFormValues) => (event: { target: { value: string } }) =>
    setValues((current) => ({ ...current, [name]: event.target.value }));
  function submit(event: FormEvent) {
    event.preventDefault();
    onSubmit(toBody(values, editing));
  }
  return (
    <form onSubmit={submit} className="form" noValidate>
      {error && !Object.keys(fields).length ? <ErrorMessage error={error} title="Not saved" /> : null}
      <TextField label="Name" value={values.name} onChange={set("name")} error={fields.name} required />
      {!editing ? (
        <>
          <TextField label="Id (optional)" value={values.id} onChange={set("id")} error={fields.id} hint="lower-case letters, digits and -; generated when empty" />
          <SelectField
            label="Engine"
            value={values.engine}
            onChange={(event) => {
              const engine = event.target.value as ServerFormValues["engine"];
              setValues((current) => ({ ...current, engine, port: String(DEFAULT_PORTS[engine] ?? current.port) }));
            }}
            error={fields.engine}
          >
            <option value="postgresql">PostgreSQL</option>
            <option value="mariadb">MariaDB</option>
            <option value="mysql">MySQL</option>
            <option value="sqlserver">SQL Server</option>
          </SelectField>
        </>
      ) : null}
      <div className="row">
        <TextField label="Host" value={values.host} onChange={set("host")} error={fields.host} required />
        <TextField label="Port" inputMode="numeric" value={values.port} onChange={set("port")} error={fields.port} required />
      </div>
      <TextField label="Username" value={values.username} onChange={set("username")} error={fields.username} autoComplete="off" required />
      <TextField
        label="Password"
        type="password"
        value={values.password}
        onChange={set("password")}
        error={fields.password}
        autoComplete="new-password"
        required={Boolean(needed) || undefined}
        hint={
          needed ? (
            values.password ? "replaces the stored one" : <span data-testid="password-needed">{needed}</span>
          ) : editing ? (
            server?.has_password ? "stored; leave empty to keep it" : "none stored"
          ) : (
            "kept in the secret store, never shown again"
          )
        }
      />
      <SelectField
        label="TLS"
        value={values.tls_mode}
        onChange={set("tls_mode")}
        error={fields.tls_mode}
        hint={<span data-testid="tls-explanation">{TLS_MODES.find((mode) => mode.value === values.tls_mode)?.explanation}</span>}
      >
        {TLS_MODES.map((mode) => (
          <option key={mode.value} value={mode.value}>{mode.label}</option>
        ))}
      </SelectField>
      <SelectField label="Default policy" value={values.default_policy_id} onChange={set("default_policy_id")} error={fields.default_policy_id}>
        <option value="">none</option>
        {(policies.data ?? []).map((policy) => (
          <option key={policy.id} value={policy.id}>{policy.name}</option>
        ))}
      </SelectField>
      <div className="actions">
        <button type="submit" className="primary" disabled={pending}>
          {pending ? "Saving…" : submitLabel}
        </button>
      </div>
    </form>
  );
}
