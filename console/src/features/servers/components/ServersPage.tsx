import type { ColumnDef } from "@tanstack/react-table";
import { useState } from "react";
import { Link, useNavigate } from "react-router";

import { DataTable } from "@/components/DataTable";
import { Dialog } from "@/components/Dialog";
import { PageHeader } from "@/components/PageHeader";
import { QueryState } from "@/components/QueryState";
import { useServers, type Server } from "@/hooks/use-catalog";
import { Can } from "@/lib/caller";

import { useCreateServer, type ServerCreate } from "../api/servers";
import { ServerForm } from "./ServerForm";

const columns: ColumnDef<Server, unknown>[] = [
  { header: "Name", accessorKey: "name", cell: ({ row }) => <Link to={`/servers/${row.original.id}`}>{row.original.name}</Link> },
  { header: "Engine", accessorKey: "engine" },
  { header: "Address", accessorFn: (row) => `${row.host}:${row.port}` },
  { header: "TLS", accessorKey: "tls_mode" },
  { header: "Default policy", accessorFn: (row) => row.default_policy_id ?? "none" },
  { header: "Password", accessorFn: (row) => (row.has_password ? "stored" : "none") },
];

export function ServersPage() {
  const servers = useServers();
  const [adding, setAdding] = useState(false);
  const create = useCreateServer();
  const navigate = useNavigate();
  return (
    <>
      <PageHeader title="Servers" lead="Database servers, their credentials (write-only) and their default policy.">
        <Can role="admin">
          <button type="button" className="primary" onClick={() => { create.reset(); setAdding(true); }}>
            Add server
          </button>
        </Can>
      </PageHeader>
      <QueryState query={servers} what="servers">
        {(items) => (
          <DataTable caption="Servers" data={items} columns={columns} rowId={(row) => row.id} empty="No server yet. Add one to start." />
        )}
      </QueryState>
      <Dialog open={adding} title="Add a server" onClose={() => setAdding(false)}>
        <ServerForm
          submitLabel="Add server"
          pending={create.isPending}
          error={create.error}
          onSubmit={(body) =>
            create.mutate(body as ServerCreate, {
              onSuccess: (server) => {
                setAdding(false);
                void navigate(`/servers/${server.id}`);
              },
            })
          }
        />
      </Dialog>
    </>
  );
}
