"""The agent engine: chat models, tools, and the executor that turns a queued run into AG-UI events."""
