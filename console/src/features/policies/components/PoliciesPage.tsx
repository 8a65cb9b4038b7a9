import type { ColumnDef } from "@tanstack/react-table";
import { Link } from "react-router";

import { DataTable } from "@/components/DataTable";
import { PageHeader } from "@/components/PageHeader";
import { QueryState } from "@/components/QueryState";
import { usePolicies, type Policy } from "@/hooks/use-catalog";
import { Can } from "@/lib/caller";

import { TIERS } from "../draft";

function summary(policy: Policy): string {
  const parts = TIERS.filter((tier) => policy[tier]).map((tier) => `${tier} ×${policy[tier]?.keep_count}`);
  return parts.length ? parts.join(", ") : "no tier (never runs)";
}

const columns: ColumnDef<Policy, unknown>[] = [
  { header: "Name", accessorKey: "name", cell: ({ row }) => <Link to={`/policies/${row.original.id}`}>{row.original.name}</Link> },
  { header: "Id", accessorKey: "id" },
  { header: "Time zone", accessorKey: "timezone" },
  { header: "Tiers (kept)", accessorFn: summary },
  { header: "Description", accessorKey: "description" },
];

export function PoliciesPage() {
  const policies = usePolicies();
  return (
    <>
      <PageHeader title="Policies" lead="When backups run (tiers and time zone) and how many each tier keeps.">
        <Can role="admin">
          <Link className="button primary" to="/policies/_new">New policy</Link>
        </Can>
      </PageHeader>
      <QueryState query={policies} what="policies">
        {(items) => <DataTable caption="Policies" data={items} columns={columns} rowId={(row) => row.id} />}
      </QueryState>
    </>
  );
}
