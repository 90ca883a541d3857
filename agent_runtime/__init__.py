"""The agent engine: chat models, tools, and the executor that turns queued runs into AG-UI
events."""
