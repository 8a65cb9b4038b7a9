import type { ColumnDef } from "@tanstack/react-table";
import { Link } from "react-router";

import { DataTable } from "@/components/DataTable";
import { PageHeader } from "@/components/PageHeader";
import { QueryState } from "@/components/QueryState";
import { StatusBadge } from "@/components/StatusBadge";
import { useDatabases, useServers, type Database, type Server } from "@/hooks/use-catalog";

function columns(servers: Map<string, Server>): ColumnDef<Database, unknown>[] {
  return [
    {
      header: "Database",
      accessorFn: (row) => row.display_name ?? row.name,
      cell: ({ row }) => <Link to={`/databases/${row.original.id}`}>{row.original.display_name ?? row.original.name}</Link>,
    },
    { header: "Id", accessorKey: "id" },
    {
      header: "Server",
      accessorKey: "server_id",
      cell: ({ row }) => <Link to={`/servers/${row.original.server_id}`}>{servers.get(row.original.server_id)?.name ?? row.original.server_id}</Link>,
    },
    {
      header: "Policy",
      accessorFn: (row) => row.policy_id ?? servers.get(row.server_id)?.default_policy_id ?? "none",
      cell: ({ row }) =>
        row.original.policy_id ?? (
          <span className="muted">{servers.get(row.original.server_id)?.default_policy_id ?? "none"} (server's)</span>
        ),
    },
    {
      header: "State",
      accessorKey: "enabled",
      cell: ({ row }) => <StatusBadge status={row.original.enabled ? "succeeded" : "disabled"} label={row.original.enabled ? "enabled" : "disabled"} />,
    },
  ];
}

export function DatabasesPage() {
  const databases = useDatabases();
  const servers = useServers();
  const byId = new Map((servers.data ?? []).map((server) => [server.id, server]));
  return (
    <>
      <PageHeader title="Databases" lead="Add databases from a server's page (Discover)." />
      <QueryState query={databases} what="databases">
        {(items) => (
          <DataTable
            caption="Databases"
            data={items}
            columns={columns(byId)}
            rowId={(row) => row.id}
            empty="No database yet: open a server and discover its databases."
          />
        )}
      </QueryState>
    </>
  );
}
