// What the server form and the connection test tell people: what each TLS mode does, when
// the stored password must be typed again, and what to do after each outcome of a test.
import type { components } from "@/types/api";

type Server = components["schemas"]["Server"];
export type TlsMode = components["schemas"]["TlsMode"];
export type Outcome = components["schemas"]["Outcome"];

export const TLS_MODES: { value: TlsMode; label: string; explanation: string }[] = [
  {
    value: "verify-full",
    label: "verify-full (encrypted, certificate checked)",
    explanation:
      "Encrypted, and the server's certificate must be issued by a trusted authority for this host name: an impostor on the network is refused. The default for Azure's database hosts.",
  },
  {
    value: "require",
    label: "require (encrypted)",
    explanation:
      "Encrypted, but the certificate is not checked: safe from eavesdroppers, not from an impostor on the path. The default.",
  },
  {
    value: "prefer",
    label: "prefer (may send the password unencrypted)",
    explanation:
      "Encrypted only if the server offers it; otherwise the password and the data cross the network in the clear.",
  },
  {
    value: "disable",
    label: "disable (unencrypted: a local server only)",
    explanation: "Never encrypted. Only for a server on a network you trust, such as the same machine.",
  },
];

// Ordered as the API orders them: a stored password never goes over weaker TLS than it
// was entered for (shared/secrets/binding.py).
const STRENGTH: Record<TlsMode, number> = { disable: 0, prefer: 1, require: 2, "verify-full": 3 };

export interface Destination {
  host: string;
  port: string;
  username: string;
  tls_mode: TlsMode;
}

/** Why the stored password must be typed again for these values, or null if it need not
 * be: it was entered for this host, port and user over TLS at least this strong. */
export function passwordNeeded(server: Server | undefined, values: Destination): string | null {
  if (!server?.has_password) return null;
  const changed: string[] = [];
  if (values.host.trim().toLowerCase() !== server.host.toLowerCase()) changed.push("the host");
  if (Number(values.port) !== server.port) changed.push("the port");
  if (values.username.trim() !== server.username) changed.push("the username");
  const reasons = changed.length ? [`you changed ${changed.join(" and ")}`] : [];
  if (STRENGTH[values.tls_mode] < STRENGTH[server.tls_mode]) {
    reasons.push(`TLS is lowered from ${server.tls_mode} to ${values.tls_mode}`);
  }
  if (!reasons.length) return null;
  return `Required: ${reasons.join(", and ")}. The stored password was entered for the old setting and is never sent anywhere else.`;
}

/** Each outcome of a connection test in a word or two. */
export const OUTCOME_LABELS: Record<Outcome, string> = {
  ok: "connected",
  unreachable: "unreachable",
  timeout: "timed out",
  authentication_failed: "authentication failed",
  tls_required: "TLS refused",
  other: "failed",
};

/** What to do next after each outcome of a connection test. */
export const NEXT_STEP: Record<Outcome, string> = {
  ok: "The stored credentials work: discover the databases below.",
  unreachable:
    "Check the host and port, that the server is running and listening there, and that the service's network (VNet integration, firewall rules) reaches it.",
  timeout:
    "Nothing answered in time: a firewall dropping the connection, a wrong port, or a server too busy to answer. Check the network rules and the port.",
  authentication_failed:
    "Check the username, then type the password again (Edit): the stored one is never shown. On the server, check that this user may log in from the service's address.",
  tls_required:
    "The server refuses our TLS setting: it offers no TLS while the mode requires it, it demands TLS while the mode is disable, or its certificate failed verification (verify-full). Turn TLS on at the server, or choose the mode it supports (Edit → TLS; lowering it needs the password again).",
  other: "The connection failed for another reason; the service does not repeat the server's own words. Look at the server's log for this login.",
};
