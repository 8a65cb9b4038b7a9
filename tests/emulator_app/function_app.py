"""A small Function App that exercises the emulator (not the product app).

Functions that leave traces for tests write marker files into EMULATOR_TEST_MARK_DIR.
"""

import asyncio
import json
import os
import time
import uuid
from pathlib import Path

import azure.durable_functions as df
import azure.functions as func

app = df.DFApp(http_auth_level=func.AuthLevel.FUNCTION)


def _mark(kind: str, payload: object) -> None:
    folder = os.environ.get("EMULATOR_TEST_MARK_DIR")
    if folder:
        path = Path(folder) / f"{kind}-{time.time_ns():020d}-{uuid.uuid4().hex[:8]}.json"
        # written aside, then renamed: a test polling the folder never reads half a file
        partial = path.with_suffix(".partial")
        partial.write_text(json.dumps(payload), encoding="utf-8")
        os.replace(partial, path)


def _json(body: object, status: int = 200) -> func.HttpResponse:
    return func.HttpResponse(json.dumps(body), status_code=status, mimetype="application/json")


# ---- HTTP starters using the real DurableOrchestrationClient ---------------------------
@app.route(route="start/{name}", methods=["POST"])
@app.durable_client_input(client_name="client")
async def http_start(req: func.HttpRequest, client: df.DurableOrchestrationClient, context):
    body = req.get_body()
    payload = json.loads(body) if body else None
    instance_id = await client.start_new(req.route_params["name"], req.params.get("id"), payload)
    response = client.create_check_status_response(req, instance_id)
    response.headers["x-invocation-id"] = context.invocation_id
    return response


@app.route(route="status/{instance_id}", methods=["GET"])
@app.durable_client_input(client_name="client")
async def http_status(req: func.HttpRequest, client: df.DurableOrchestrationClient):
    status = await client.get_status(req.route_params["instance_id"], show_history=True)
    if not status:
        return _json({"found": False}, 404)
    return _json(
        {
            "found": True,
            "runtimeStatus": status.runtime_status.value if status.runtime_status else None,
            "output": status.output,
            "customStatus": status.custom_status,
            "historyLength": len(status.historyEvents or []),
        }
    )


@app.route(route="event/{instance_id}/{event}", methods=["POST"])
@app.durable_client_input(client_name="client")
async def http_event(req: func.HttpRequest, client: df.DurableOrchestrationClient):
    await client.raise_event(
        req.route_params["instance_id"], req.route_params["event"], req.get_json()
    )
    return func.HttpResponse(status_code=202)


@app.route(route="manage/{instance_id}/{action}", methods=["POST"])
@app.durable_client_input(client_name="client")
async def http_manage(req: func.HttpRequest, client: df.DurableOrchestrationClient):
    instance_id, action = req.route_params["instance_id"], req.route_params["action"]
    if action == "terminate":
        await client.terminate(instance_id, "test says stop")
    elif action == "suspend":
        await client.suspend(instance_id, "test says wait")
    elif action == "resume":
        await client.resume(instance_id, "test says go")
    elif action == "purge":
        result = await client.purge_instance_history(instance_id)
        return _json({"deleted": result.instances_deleted})
    elif action == "payload":
        return _json(client.create_http_management_payload(instance_id))
    else:
        return func.HttpResponse(status_code=400)
    return func.HttpResponse(status_code=202)


@app.route(route="query", methods=["GET"])
@app.durable_client_input(client_name="client")
async def http_query(req: func.HttpRequest, client: df.DurableOrchestrationClient):
    prefix = req.params.get("prefix")
    statuses = await client.get_status_by(instance_id_prefix=prefix)
    return _json(sorted(s.instance_id for s in statuses))


@app.route(route="entity/{name}/{key}", methods=["GET", "POST"])
@app.durable_client_input(client_name="client")
async def http_entity(req: func.HttpRequest, client: df.DurableOrchestrationClient):
    entity = df.EntityId(req.route_params["name"], req.route_params["key"])
    if req.method == "POST":
        await client.signal_entity(entity, req.params["op"], req.get_json())
        return func.HttpResponse(status_code=202)
    state = await client.read_entity_state(entity)
    return _json({"exists": state.entity_exists, "state": state.entity_state})


# ---- plain HTTP routes: templates, auth levels ------------------------------------------
@app.route(route="echo/{id:int}", methods=["GET", "POST"], auth_level=func.AuthLevel.ANONYMOUS)
def echo_int(req: func.HttpRequest) -> func.HttpResponse:
    return _json(
        {
            "function": "echo_int",
            "route": dict(req.route_params),
            "params": dict(req.params),
            "method": req.method,
            "body": req.get_body().decode(),
            "url": req.url,
            "header": req.headers.get("x-test"),
        }
    )


@app.route(route="echo/{name}", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def echo_name(req: func.HttpRequest) -> func.HttpResponse:
    return _json({"function": "echo_name", "route": dict(req.route_params)})


@app.route(route="files/{*path}", auth_level=func.AuthLevel.ANONYMOUS)
def files(req: func.HttpRequest) -> func.HttpResponse:
    return _json({"function": "files", "route": dict(req.route_params)})


@app.route(route="optional/{value?}", auth_level=func.AuthLevel.ANONYMOUS)
async def optional(req: func.HttpRequest) -> func.HttpResponse:
    return _json({"function": "optional", "route": dict(req.route_params)})


@app.route(route="secure/function")
def secure_function(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse("function ok")


@app.route(route="secure/admin", auth_level=func.AuthLevel.ADMIN)
def secure_admin(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse("admin ok")


@app.route(route="boom", auth_level=func.AuthLevel.ANONYMOUS)
def boom(req: func.HttpRequest) -> func.HttpResponse:
    raise RuntimeError("this route always fails")


# ---- timer trigger ----------------------------------------------------------------------
@app.timer_trigger(schedule="0 0 3 * * *", arg_name="timer", run_on_startup=True)
def nightly(timer: func.TimerRequest) -> None:
    _mark("timer", {"past_due": timer.past_due, "status": timer.schedule_status})


@app.timer_trigger(schedule="0 0 0 1 1 *", arg_name="timer", run_on_startup=True)
@app.durable_client_input(client_name="client")
async def singleton_starter(timer: func.TimerRequest, client: df.DurableOrchestrationClient):
    """The get-status-then-start pattern; only when a test asks for it."""
    instance_id = os.environ.get("EMULATOR_TEST_SINGLETON_ID")
    if not instance_id:
        return
    status = await client.get_status(instance_id)
    if not status or status.runtime_status in (
        df.OrchestrationRuntimeStatus.Completed,
        df.OrchestrationRuntimeStatus.Failed,
        df.OrchestrationRuntimeStatus.Terminated,
    ):
        await client.start_new("hello_chain", instance_id, ["Timer"])


# ---- orchestrations ---------------------------------------------------------------------
@app.orchestration_trigger(context_name="context")
def fan_out(context: df.DurableOrchestrationContext):
    count = context.get_input() or 0
    tasks = [context.call_activity("slow_square", n) for n in range(1, count + 1)]
    results = yield context.task_all(tasks)
    return sum(results)


@app.orchestration_trigger(context_name="context")
def hello_chain(context: df.DurableOrchestrationContext):
    names = context.get_input() or ["Tokyo", "Seattle"]
    greetings = []
    for name in names:
        greetings.append((yield context.call_activity("say_hello", name)))
    return greetings


@app.orchestration_trigger(context_name="context")
def wait_for_approval(context: df.DurableOrchestrationContext):
    context.set_custom_status("waiting")
    approval = yield context.wait_for_external_event("approve")
    return {"approval": approval}


@app.orchestration_trigger(context_name="context")
def count_with_entity(context: df.DurableOrchestrationContext):
    entity = df.EntityId("Counter", context.get_input())
    context.signal_entity(entity, "add", 5)
    value = yield context.call_entity(entity, "get")
    return value


# ---- activities -------------------------------------------------------------------------
@app.activity_trigger(input_name="n")
def slow_square(n: int) -> int:
    _mark("activity", n)
    gate = os.environ.get("EMULATOR_TEST_GATE_FILE")
    # the crash test holds activities here until it has killed the emulator
    while gate and not Path(gate).exists():
        time.sleep(0.02)
    return n * n


@app.activity_trigger(input_name="name")
async def say_hello(name: str) -> str:
    await asyncio.sleep(0)
    return f"Hello {name}!"


# ---- entity -----------------------------------------------------------------------------
@app.entity_trigger(context_name="context")
def Counter(context: df.DurableEntityContext) -> None:
    value = context.get_state(lambda: 0)
    operation = context.operation_name
    if operation == "add":
        value += context.get_input()
    elif operation == "reset":
        value = 0
    elif operation == "get":
        context.set_result(value)
    elif operation == "delete":
        context.destruct_on_exit()
        return
    context.set_state(value)
