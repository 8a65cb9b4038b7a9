// Every page is its own chunk, loaded when it is first opened.
import { createBrowserRouter } from "react-router";

import { Shell } from "./Shell";

function page(load: () => Promise<{ default: React.ComponentType }>) {
  return async () => ({ Component: (await load()).default });
}

export const router = createBrowserRouter([
  {
    path: "/",
    Component: Shell,
    children: [
      { index: true, lazy: page(() => import("./routes/overview")) },
      { path: "history", lazy: page(() => import("./routes/history")) },
      { path: "servers", lazy: page(() => import("./routes/servers")) },
      { path: "servers/:serverId", lazy: page(() => import("./routes/server")) },
      { path: "databases", lazy: page(() => import("./routes/databases")) },
      { path: "databases/:databaseId", lazy: page(() => import("./routes/database")) },
      { path: "backups", lazy: page(() => import("./routes/backups")) },
      { path: "policies", lazy: page(() => import("./routes/policies")) },
      { path: "policies/:policyId", lazy: page(() => import("./routes/policy")) },
      { path: "storage", lazy: page(() => import("./routes/storage")) },
      { path: "keys", lazy: page(() => import("./routes/keys")) },
      { path: "audit", lazy: page(() => import("./routes/audit")) },
      { path: "system", lazy: page(() => import("./routes/system")) },
      { path: "*", lazy: page(() => import("./routes/not-found")) },
    ],
  },
]);
