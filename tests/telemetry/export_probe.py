"""Run as `python -m tests.telemetry.export_probe [worker]` in a fresh interpreter: points
APPLICATIONINSIGHTS_CONNECTION_STRING at a local stand-in of the ingestion endpoint,
configures telemetry as the app does when it loads, records one backup and logs one line
about a job, flushes, and prints what reached the endpoint (one JSON envelope a line).

With `worker`, the Functions Python worker's own set-up runs first, as it does when
PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY is "true" (configure_azure_monitor with the
root logger), so the test can tell whether anything is exported twice.
"""

from __future__ import annotations

import gzip
import json
import logging
import os
import sys
import threading
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

received: list[dict[str, Any]] = []


class Ingestion(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        envelopes = json.loads(body)
        received.extend(envelopes)
        answer = json.dumps(
            {"itemsReceived": len(envelopes), "itemsAccepted": len(envelopes), "errors": []}
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args: Any) -> None:
        pass


def main(worker: bool) -> None:
    server = HTTPServer(("127.0.0.1", 0), Ingestion)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    os.environ["APPLICATIONINSIGHTS_CONNECTION_STRING"] = (
        "InstrumentationKey=00000000-0000-0000-0000-000000000000;"
        f"IngestionEndpoint=http://127.0.0.1:{server.server_port}/"
    )
    os.environ["APPLICATIONINSIGHTS_STATSBEAT_DISABLED_ALL"] = "true"
    if worker:
        os.environ["PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY"] = "true"
        from azure.monitor.opentelemetry import configure_azure_monitor

        configure_azure_monitor(logger_name="")  # what the worker does before loading the app

    from shared import telemetry
    from shared.job_context import job_context

    assert telemetry.configure_telemetry()
    now = datetime.now(UTC)
    telemetry.backup_ended(
        engine="postgresql", database_id="shop", server_id="pg", outcome="succeeded",
        started_at=now, finished_at=now, raw_bytes=1000, stored_bytes=300,
    )  # fmt: skip
    logging.getLogger("activities").setLevel(logging.INFO)
    with job_context(instance_id="manual-shop-1", record_id="r1", database="shop", server="pg"):
        logging.getLogger("activities.backup").info("backup %s", "succeeded")

    from opentelemetry import metrics
    from opentelemetry._logs import get_logger_provider

    metrics.get_meter_provider().force_flush()  # type: ignore[attr-defined]
    get_logger_provider().force_flush()  # type: ignore[attr-defined]
    for envelope in received:
        print(json.dumps({"name": envelope["name"], **envelope["data"]["baseData"]}))


if __name__ == "__main__":
    main(worker="worker" in sys.argv[1:])
