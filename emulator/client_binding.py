"""The durable client binding JSON and the management URLs it carries (protocol 4.1).

Every Python client call goes to `rpcBaseUrl`. As on Azure, that is a listener of its own on a
loopback address (the extension's `LocalHttpListener`), not the public port; here its path also
holds a secret made at every start, which only the binding carries (a browser page or another
local program cannot guess it). The public management URLs point at
`/runtime/webhooks/durabletask/` on the configured origin and carry the durabletask system key
as `code`, which is what `requiredQueryStringParameters` says on Azure.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from urllib.parse import quote

WEBHOOK_PATH = "/runtime/webhooks/durabletask"
RPC_PATH = "/durabletask"
CONNECTION_NAME = "Storage"
INSTANCE_PLACEHOLDER = "INSTANCEID"


@dataclass(frozen=True)
class ClientUrls:
    """Builds the URLs for one configured origin (scheme://host:port), never a request's."""

    origin: str
    hub_name: str
    system_key: str
    rpc_base: str  # the RPC listener's base URL, ending in a slash

    @property
    def webhook_base(self) -> str:
        return f"{self.origin}{WEBHOOK_PATH}"

    @property
    def query(self) -> str:
        hub = quote(self.hub_name, safe="")
        return f"taskHub={hub}&connection={CONNECTION_NAME}&code={quote(self.system_key, safe='')}"

    def management_urls(self, instance_id: str) -> dict[str, str]:
        base = f"{self.webhook_base}/instances/{quote(instance_id, safe='')}"
        qs = self.query
        return {
            "id": instance_id,
            "statusQueryGetUri": f"{base}?{qs}",
            "sendEventPostUri": f"{base}/raiseEvent/{{eventName}}?{qs}",
            "terminatePostUri": f"{base}/terminate?reason={{text}}&{qs}",
            "rewindPostUri": f"{base}/rewind?reason={{text}}&{qs}",
            "purgeHistoryDeleteUri": f"{base}?{qs}",
            "restartPostUri": f"{base}/restart?{qs}",
            "suspendPostUri": f"{base}/suspend?reason={{text}}&{qs}",
            "resumePostUri": f"{base}/resume?reason={{text}}&{qs}",
        }

    def check_status_payload(self, instance_id: str) -> dict[str, str]:
        payload = self.management_urls(instance_id)
        # the real check-status payload has no rewind URL
        payload.pop("rewindPostUri")
        return payload

    def binding_json(self) -> str:
        start = f"{self.webhook_base}/orchestrators/{{functionName}}[/{{instanceId}}]"
        wait_qs = "timeout={timeoutInSeconds}&pollingInterval={intervalInSeconds}"
        binding = {
            "taskHubName": self.hub_name,
            "creationUrls": {
                "createNewInstancePostUri": f"{start}?{self.query}",
                "createAndWaitOnNewInstancePostUri": f"{start}?{wait_qs}&{self.query}",
            },
            "managementUrls": self.management_urls(INSTANCE_PLACEHOLDER),
            "baseUrl": self.webhook_base,
            "requiredQueryStringParameters": f"code={quote(self.system_key, safe='')}",
            "rpcBaseUrl": self.rpc_base,
            "httpBaseUrl": None,
            "connectionName": None,
        }
        return json.dumps(binding)


def rpc_base_url(origin: str, secret: str) -> str:
    """The RPC listener's base URL: its origin, then `/durabletask/<secret>/`."""
    return f"{origin}{RPC_PATH}/{secret}/"
