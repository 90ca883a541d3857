"""What this server's agent can do, as AG-UI 1.0's `AgentCapabilities` (`GET /agent/capabilities`,
GraphQL `agentCapabilities`).

It depends on the settings only (the model, the attachment cap), not on the caller. What AG-UI
has no field for (cancel, run status, the attachment cap) is under `custom`, the protocol's
extension point.
"""

from __future__ import annotations

from typing import Any

from ag_ui.core import (
    AgentCapabilities,
    ExecutionCapabilities,
    HumanInTheLoopCapabilities,
    IdentityCapabilities,
    MultimodalCapabilities,
    MultimodalInputCapabilities,
    ReasoningCapabilities,
    StateCapabilities,
    ToolsCapabilities,
    TransportCapabilities,
)

from agent_runtime.run_session import PROTOCOL_VERSION
from agent_runtime.tool_specs import NEEDS_APPROVAL, SERVER_TOOLS
from config import Settings


def agent_capabilities(settings: Settings) -> AgentCapabilities:
    openai = settings.agent_model.strip().startswith("openai:")
    # The offline model sees no image; an OpenAI-compatible one does unless turned off.
    attachments = openai and settings.agent_model_images and settings.agent_max_attachment_bytes > 0
    return AgentCapabilities(
        identity=IdentityCapabilities(
            name="runtime-api",
            type="calendar-assistant",
            description="Plans the user's time: reads, creates, changes and shares schedule "
            "items, and reads friends and the inbox.",
            provider="runtime-api",
            metadata={"model": settings.agent_model.strip()},
        ),
        # Runs are detached jobs whose events any number of clients can follow and resume from
        # an event id (SSE `Last-Event-ID`, GraphQL `agentEvents(after:)`).
        transport=TransportCapabilities(
            streaming=True, websocket=False, push_notifications=False, resumable=True
        ),
        tools=ToolsCapabilities(
            supported=True, items=list(SERVER_TOOLS), parallel_calls=True, client_provided=True
        ),
        state=StateCapabilities(snapshots=True, deltas=True, persistent_state=True, memory=False),
        human_in_the_loop=HumanInTheLoopCapabilities(
            supported=True,
            approvals=True,
            interrupts=True,
            approve_with_edits=False,
            feedback=False,
            interventions=False,
        ),
        reasoning=ReasoningCapabilities(supported=openai, streaming=openai, encrypted=False),
        multimodal=MultimodalCapabilities(
            input=MultimodalInputCapabilities(
                image=attachments, pdf=attachments, file=attachments, audio=False, video=False
            )
        ),
        execution=ExecutionCapabilities(
            code_execution=False, max_iterations=settings.agent_max_model_turns
        ),
        custom={
            "protocolVersion": PROTOCOL_VERSION,
            "cancel": True,
            "runStatus": True,
            "toolsNeedingApproval": sorted(NEEDS_APPROVAL),
            "maxAttachmentBytes": settings.agent_max_attachment_bytes,
            "tokenUsage": openai,
        },
    )


def capabilities_json(settings: Settings) -> dict[str, Any]:
    """The capabilities as they are on the wire (camelCase, unset fields left out)."""
    return agent_capabilities(settings).model_dump(by_alias=True, exclude_none=True, mode="json")
