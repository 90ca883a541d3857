"""`GET /agent/capabilities` and GraphQL `agentCapabilities` (issue 13, item 6): the same AG-UI 1.0
`AgentCapabilities` object on both transports, accepted by `@ag-ui/core`'s own zod schema and by
`ag-ui-protocol`'s model, describing what this server does: resumable streaming, its server
tools, approvals and interrupts, state snapshots and deltas, and multimodal input as configured."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from ag_ui.core import AgentCapabilities

from agent_runtime.tool_specs import NEEDS_APPROVAL, SERVER_TOOL_NAMES
from tests.support.agui_node import parse_with_schema
from tests.support.calendar_api import problem
from tests.support.client import Account, Api, gql_code

QUERY = "{ agentCapabilities }"
OPENAI = {"agent_model": "openai:some-model", "openai_base_url": "http://127.0.0.1:9/v1"}


async def capabilities(api: Api, account: Account) -> dict[str, Any]:
    r = await api.rest("GET", "/agent/capabilities", account.access_token)
    assert r.status_code == 200, r.text
    rest: dict[str, Any] = r.json()
    body = await api.gql(QUERY, token=account.access_token)
    assert "errors" not in body, body
    assert body["data"]["agentCapabilities"] == rest
    return rest


async def test_capabilities_parse_with_the_official_schemas(api: Api, alice: Account) -> None:
    caps = await capabilities(api, alice)

    report = await asyncio.to_thread(parse_with_schema, "AgentCapabilitiesSchema", caps)
    assert report["ok"], report["errors"]
    assert report["parsed"] == caps  # nothing stripped: every key is the schema's
    assert (
        AgentCapabilities.model_validate(caps).model_dump(
            by_alias=True, exclude_none=True, mode="json"
        )
        == caps
    )

    assert caps["transport"] == {
        "streaming": True,
        "websocket": False,
        "pushNotifications": False,
        "resumable": True,
    }
    tools = caps["tools"]
    assert tools["supported"] and tools["clientProvided"]
    assert {t["name"] for t in tools["items"]} == SERVER_TOOL_NAMES
    assert all(t["description"] and t["parameters"]["type"] == "object" for t in tools["items"])
    assert caps["humanInTheLoop"]["approvals"] and caps["humanInTheLoop"]["interrupts"]
    assert caps["state"]["snapshots"] and caps["state"]["deltas"]
    assert caps["custom"]["toolsNeedingApproval"] == sorted(NEEDS_APPROVAL)
    assert caps["custom"]["cancel"] and caps["custom"]["runStatus"]
    # The offline model sees no image and does not reason aloud.
    assert not any(caps["multimodal"]["input"].values())
    assert caps["reasoning"]["supported"] is False


@pytest.mark.parametrize(
    ("settings_overrides", "attachments"),
    [
        (OPENAI, True),
        ({**OPENAI, "agent_model_images": False}, False),
        ({**OPENAI, "agent_max_attachment_bytes": 0}, False),
    ],
    indirect=["settings_overrides"],
)
async def test_multimodal_input_follows_the_configuration(
    api: Api, alice: Account, attachments: bool
) -> None:
    caps = await capabilities(api, alice)
    assert caps["multimodal"]["input"] == {
        "image": attachments,
        "audio": False,
        "video": False,
        "pdf": attachments,
        "file": attachments,
    }
    assert caps["reasoning"] == {"supported": True, "streaming": True, "encrypted": False}
    assert caps["identity"]["metadata"] == {"model": "openai:some-model"}


async def test_capabilities_need_a_session(api: Api) -> None:
    problem(await api.rest("GET", "/agent/capabilities"), 401)
    assert gql_code(await api.gql(QUERY)) == "UNAUTHENTICATED"
