// The three roles of the API, ordered: each may do what the ones before it may.

export type Role = "reader" | "operator" | "admin";

const CLAIMS: Record<string, Role> = {
  "Backup.Reader": "reader",
  "Backup.Operator": "operator",
  "Backup.Admin": "admin",
};
const RANK: Record<Role, number> = { reader: 1, operator: 2, admin: 3 };

export function roleFromClaim(claim: string | null | undefined): Role | null {
  return claim ? (CLAIMS[claim] ?? null) : null;
}

export function allows(role: Role | null, needed: Role): boolean {
  return role !== null && RANK[role] >= RANK[needed];
}
