"""The Node AG-UI harness itself (tests/support/agui_node.py), independent of our server.

Hand-written streams prove the harness accepts what AG-UI 1.0 allows (including every shape our
server emits: protocolVersion, both RUN_FINISHED outcomes, state and message snapshots, tool
results, steps) and, just as important, that it can fail.
"""

from __future__ import annotations

import copy
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tests.support.agui_node import Event, run_http_agent, split_runs, verify_runs, verify_stream

THREAD = "0b7c1f4e-5d2a-4c43-9f0e-3f1b2a9c8d71"


def valid_run(run_id: str = "run-1") -> list[Event]:
    return [
        {"type": "RUN_STARTED", "threadId": THREAD, "runId": run_id, "protocolVersion": "1.0"},
        {"type": "STATE_SNAPSHOT", "snapshot": {"items": [], "step": 0}},
        {
            "type": "MESSAGES_SNAPSHOT",
            "messages": [{"id": f"{run_id}-u", "role": "user", "content": "Plan my day"}],
        },
        {"type": "STEP_STARTED", "stepName": "model"},
        {"type": "TEXT_MESSAGE_START", "messageId": f"{run_id}-m", "role": "assistant"},
        {"type": "TEXT_MESSAGE_CONTENT", "messageId": f"{run_id}-m", "delta": "Sure, "},
        {"type": "TEXT_MESSAGE_CONTENT", "messageId": f"{run_id}-m", "delta": "one moment."},
        {"type": "TEXT_MESSAGE_END", "messageId": f"{run_id}-m"},
        {
            "type": "TOOL_CALL_START",
            "toolCallId": f"{run_id}-tc1",
            "toolCallName": "list_schedule",
            "parentMessageId": f"{run_id}-m",
        },
        {"type": "TOOL_CALL_ARGS", "toolCallId": f"{run_id}-tc1", "delta": '{"day": '},
        {"type": "TOOL_CALL_ARGS", "toolCallId": f"{run_id}-tc1", "delta": '"2025-01-01"}'},
        {"type": "TOOL_CALL_END", "toolCallId": f"{run_id}-tc1"},
        {
            "type": "TOOL_CALL_RESULT",
            "messageId": f"{run_id}-tool",
            "toolCallId": f"{run_id}-tc1",
            "content": '{"items": []}',
            "role": "tool",
        },
        {"type": "STATE_DELTA", "delta": [{"op": "replace", "path": "/step", "value": 1}]},
        {
            "type": "TOOL_CALL_START",
            "toolCallId": f"{run_id}-tc2",
            "toolCallName": "confirm_with_user",
            "parentMessageId": f"{run_id}-m",
        },
        {"type": "TOOL_CALL_ARGS", "toolCallId": f"{run_id}-tc2", "delta": "{}"},
        {"type": "TOOL_CALL_END", "toolCallId": f"{run_id}-tc2"},
        {"type": "STEP_FINISHED", "stepName": "model"},
        {
            "type": "RUN_FINISHED",
            "threadId": THREAD,
            "runId": run_id,
            "outcome": {"type": "success", "pendingToolCallIds": [f"{run_id}-tc2"]},
        },
    ]


def interrupted_run(run_id: str = "run-2") -> list[Event]:
    return [
        {"type": "RUN_STARTED", "threadId": THREAD, "runId": run_id, "protocolVersion": "1.0"},
        {"type": "TOOL_CALL_START", "toolCallId": f"{run_id}-tc", "toolCallName": "delete_item"},
        {"type": "TOOL_CALL_ARGS", "toolCallId": f"{run_id}-tc", "delta": '{"id": 7}'},
        {"type": "TOOL_CALL_END", "toolCallId": f"{run_id}-tc"},
        {
            "type": "RUN_FINISHED",
            "threadId": THREAD,
            "runId": run_id,
            "outcome": {
                "type": "interrupt",
                "interrupts": [
                    {
                        "id": f"{run_id}-i",
                        "reason": "tool_call",
                        "toolCallId": f"{run_id}-tc",
                        "message": "Delete this item?",
                    }
                ],
            },
        },
    ]


def errored_run(run_id: str = "run-3") -> list[Event]:
    return [
        {"type": "RUN_STARTED", "threadId": THREAD, "runId": run_id, "protocolVersion": "1.0"},
        {"type": "TEXT_MESSAGE_START", "messageId": f"{run_id}-m", "role": "assistant"},
        {"type": "TEXT_MESSAGE_CONTENT", "messageId": f"{run_id}-m", "delta": "Hm"},
        {"type": "RUN_ERROR", "message": "model unavailable", "code": "model_error"},
    ]


def without(events: list[Event], index: int, field: str) -> list[Event]:
    changed = copy.deepcopy(events)
    del changed[index][field]
    return changed


def assert_all_ok(report: dict[str, Any]) -> None:
    assert report["ok"], json.dumps(report, indent=2)
    assert all(run["ok"] and not run["errors"] for run in report["runs"]), report


def test_valid_runs_verify_ok() -> None:
    report = verify_runs([valid_run(), interrupted_run(), errored_run()])
    assert_all_ok(report)
    assert len(report["runs"]) == 3
    assert report["versions"]["@ag-ui/core"] == "1.0.0"
    assert report["versions"]["@ag-ui/client"] == "1.0.0"
    # Nothing in these streams is material a stock client would strip.
    assert all(run["warnings"] == [] for run in report["runs"]), report


def test_consecutive_runs_in_one_stream_verify_ok() -> None:
    stream = valid_run("a") + errored_run("b") + interrupted_run("c") + valid_run("d")
    assert_all_ok(verify_runs([stream]))
    assert [len(run) for run in split_runs(stream)] == [19, 4, 5, 19]
    assert_all_ok(verify_stream(stream))


@pytest.mark.parametrize(
    ("name", "events", "expected"),
    [
        (
            "content without start",
            [
                valid_run()[0],
                {"type": "TEXT_MESSAGE_CONTENT", "messageId": "nope", "delta": "x"},
                valid_run()[-1],
            ],
            "No active text message",
        ),
        (
            "event after RUN_FINISHED",
            [*valid_run(), {"type": "STEP_STARTED", "stepName": "late"}],
            "already finished",
        ),
        (
            "event after RUN_ERROR",
            [*errored_run(), {"type": "TEXT_MESSAGE_END", "messageId": "run-3-m"}],
            "already errored",
        ),
        ("RUN_STARTED without threadId", without(valid_run(), 0, "threadId"), "threadId"),
        ("TOOL_CALL_START without name", without(valid_run(), 8, "toolCallName"), "toolCallName"),
        ("RUN_FINISHED without runId", without(valid_run(), -1, "runId"), "runId"),
        (
            "null for an optional field",
            [{**valid_run()[0], "parentRunId": None}, valid_run()[-1]],
            "parentRunId",
        ),
        (
            "interrupt outcome with no interrupts",
            [
                valid_run()[0],
                {
                    "type": "RUN_FINISHED",
                    "threadId": THREAD,
                    "runId": "run-1",
                    "outcome": {"type": "interrupt", "interrupts": []},
                },
            ],
            "interrupts",
        ),
        (
            "tool call left open",
            [valid_run()[0], valid_run()[8], valid_run()[-1]],
            "tool calls are still active",
        ),
        ("step left open", [valid_run()[0], valid_run()[3], valid_run()[-1]], "steps are still"),
        ("first event not RUN_STARTED", valid_run()[1:], "First event must be 'RUN_STARTED'"),
        ("run never finished", valid_run()[:-1], "not RUN_FINISHED or RUN_ERROR"),
        (
            "unknown event type",
            [valid_run()[0], {"type": "NOT_AN_EVENT"}, valid_run()[-1]],
            "NOT_AN_EVENT",
        ),
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_invalid_run_is_reported(name: str, events: list[Event], expected: str) -> None:
    report = verify_runs([valid_run("fine"), events])
    assert report["runs"][0]["ok"], report
    assert not report["ok"], f"{name}: {report}"
    bad = report["runs"][1]
    assert not bad["ok"]
    assert any(expected in error for error in bad["errors"]), f"{name}: {bad['errors']}"


def test_unknown_properties_are_reported_as_warnings() -> None:
    run = valid_run()
    run[-1] = {**run[-1], "snake_case_leak": 1}
    report = verify_runs([run])
    assert_all_ok(report)
    assert any("/snake_case_leak" in warning for warning in report["runs"][0]["warnings"])


def test_split_runs_keeps_everything() -> None:
    stray: Event = {"type": "STEP_STARTED", "stepName": "x"}
    first, second = valid_run("a"), valid_run("b")
    assert split_runs([]) == []
    assert split_runs(first + second) == [first, second]
    assert split_runs([stray, *first]) == [[stray], first]
    # A RUN_STARTED while a run is open closes the open one, unterminated.
    assert split_runs(first[:3] + second) == [first[:3], second]
    assert split_runs(first + second[:2]) == [first, second[:2]]
    assert [run["ok"] for run in verify_runs(split_runs([stray, *first]))["runs"]] == [False, True]


def test_require_terminal_can_be_turned_off() -> None:
    assert verify_runs([valid_run()[:-2]], require_terminal=False)["ok"]


# --- a stock HttpAgent against a canned SSE endpoint -----------------------------------------


class _CannedAgui(BaseHTTPRequestHandler):
    requests: list[dict[str, Any]]

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.requests.append({"authorization": self.headers.get("Authorization"), "body": body})
        if self.headers.get("Authorization") != "Bearer good-token":
            payload = b'{"detail": "unauthorized"}'
            self.send_response(401)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
            return
        run = valid_run(body["runId"])
        for event in run:
            if "threadId" in event:
                event["threadId"] = body["threadId"]
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()
        for index, event in enumerate(run):
            frame = f"id: {index}\nevent: {event['type']}\ndata: {json.dumps(event)}\n\n"
            self.wfile.write(frame.encode())
            self.wfile.flush()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def canned_agui() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    requests: list[dict[str, Any]] = []
    handler = type("Handler", (_CannedAgui,), {"requests": requests})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/agui", requests
    finally:
        server.shutdown()
        server.server_close()


def test_http_agent_runs_against_sse_endpoint(
    canned_agui: tuple[str, list[dict[str, Any]]],
) -> None:
    url, requests = canned_agui
    tools = [{"name": "confirm_with_user", "description": "Ask", "parameters": {"type": "object"}}]
    outcome = run_http_agent(url, "good-token", THREAD, "run-http", "Plan my day", tools)
    assert outcome["ok"], outcome
    assert outcome["events"] == [event["type"] for event in valid_run()]
    assert outcome["runFinished"]["outcome"] == "success"
    assert outcome["runFinished"]["pendingToolCallIds"] == ["run-http-tc2"]
    assert outcome["state"] == {"items": [], "step": 1}
    assistant = [message for message in outcome["newMessages"] if message["role"] == "assistant"]
    assert assistant and assistant[0]["content"] == "Sure, one moment."
    assert outcome["warnings"] == []
    assert_all_ok(verify_stream(outcome["rawEvents"]))

    (request,) = requests
    assert request["authorization"] == "Bearer good-token"
    assert request["body"]["threadId"] == THREAD
    assert request["body"]["runId"] == "run-http"
    assert request["body"]["tools"] == tools
    assert request["body"]["messages"][-1]["content"] == "Plan my day"


def test_http_agent_reports_http_errors(canned_agui: tuple[str, list[dict[str, Any]]]) -> None:
    url, _ = canned_agui
    outcome = run_http_agent(url, "bad-token", THREAD, "run-401", "hello")
    assert not outcome["ok"]
    assert outcome["status"] == 401
    assert outcome["payload"] == {"detail": "unauthorized"}
