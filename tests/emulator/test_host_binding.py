"""The durable client binding JSON, read by the real SDK client."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlparse

import azure.durable_functions as df
import azure.functions as func
import pytest
from aiohttp.test_utils import make_mocked_request

from emulator.client_api import is_loopback_call
from emulator.client_binding import ClientUrls, rpc_base_url
from emulator.client_params import bool_param, statuses_param
from emulator.contracts import InvalidRequest
from emulator.instance_ids import validate_instance_id

RPC_BASE = rpc_base_url("http://127.0.0.1:17071", "s3cret")


def _urls() -> ClientUrls:
    return ClientUrls("http://127.0.0.1:7071", "MyHub", "sys-key", RPC_BASE)


def test_sdk_client_reads_the_binding() -> None:
    client = df.DurableOrchestrationClient(_urls().binding_json())
    assert client._orchestration_bindings.task_hub_name == "MyHub"
    assert client._orchestration_bindings.rpc_base_url == RPC_BASE
    assert RPC_BASE == "http://127.0.0.1:17071/durabletask/s3cret/"
    payload = client.create_http_management_payload("abc")
    status = urlparse(payload["statusQueryGetUri"])
    assert status.path == "/runtime/webhooks/durabletask/instances/abc"
    assert parse_qs(status.query) == {
        "taskHub": ["MyHub"],
        "connection": ["Storage"],
        "code": ["sys-key"],
    }
    assert payload["sendEventPostUri"].startswith(
        "http://127.0.0.1:7071/runtime/webhooks/durabletask/instances/abc/raiseEvent/{eventName}?"
    )


def test_check_status_response_uses_the_request_origin() -> None:
    client = df.DurableOrchestrationClient(_urls().binding_json())
    request = func.HttpRequest("POST", "http://example.test:8080/api/start", body=b"")
    response = client.create_check_status_response(request, "iid")
    body = json.loads(response.get_body())
    assert response.status_code == 202
    assert body["id"] == "iid"
    assert body["statusQueryGetUri"].startswith("http://example.test:8080/runtime/webhooks/")
    assert response.headers["Location"] == body["statusQueryGetUri"]


def test_binding_fields() -> None:
    binding = json.loads(_urls().binding_json())
    assert binding["requiredQueryStringParameters"] == "code=sys-key"
    assert binding["baseUrl"] == "http://127.0.0.1:7071/runtime/webhooks/durabletask"
    assert "{functionName}[/{instanceId}]" in binding["creationUrls"]["createNewInstancePostUri"]
    wait = binding["creationUrls"]["createAndWaitOnNewInstancePostUri"]
    assert "timeout={timeoutInSeconds}&pollingInterval={intervalInSeconds}" in wait


@pytest.mark.parametrize(
    "bad", ["", "@counter@k", "a#b", "a?b", "a\\b", "a/b", "tab\there", "x" * 257]
)
def test_instance_id_rules(bad: str) -> None:
    with pytest.raises(InvalidRequest):
        validate_instance_id(bad)


def test_good_instance_ids() -> None:
    for good in ["abc", "x" * 256, "parent:3", "backup-2024-05-01"]:
        validate_instance_id(good)


def test_query_booleans_and_statuses() -> None:
    request = make_mocked_request(
        "GET", "/x?showHistory=True&showInput=false&runtimeStatus=running,Completed"
    )
    assert bool_param(request, "showHistory") is True
    assert bool_param(request, "showInput", True) is False
    assert bool_param(request, "missing", True) is True
    assert statuses_param(request) == ["Running", "Completed"]
    with pytest.raises(InvalidRequest):
        statuses_param(make_mocked_request("GET", "/x?runtimeStatus=Sleeping"))


class _Transport:
    def __init__(self, peer: str) -> None:
        self._info = {"peername": (peer, 50000), "sockname": ("127.0.0.1", 17071)}

    def get_extra_info(self, name: str, default: object = None) -> object:
        return self._info.get(name, default)


@pytest.mark.parametrize(
    ("peer", "host", "local"),
    [
        ("127.0.0.1", "127.0.0.1:17071", True),
        ("::1", "[::1]:17071", True),
        ("127.0.0.1", "localhost:17071", True),
        ("10.0.0.5", "10.0.0.5:17071", False),  # not loopback, even when it is this machine
        ("127.0.0.1", "attacker.example:17071", False),  # a page on a DNS name rebound to us
        ("127.0.0.1", "[::ffff:127.0.0.1", False),  # a malformed Host header
    ],
)
def test_rpc_listener_answers_loopback_names_only(peer: str, host: str, local: bool) -> None:
    request = make_mocked_request(
        "GET", "/durabletask/s/instances/", headers={"Host": host}, transport=_Transport(peer)
    )
    assert is_loopback_call(request) is local
