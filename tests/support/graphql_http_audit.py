"""GraphQL over HTTP conformance: the audit suite of the `graphql-http` npm package.

`tests/node/graphql-http-audit.mjs` runs `serverAudits({url, fetchFn})` (versions pinned by
`tests/node/package-lock.json`) and prints one result per audit: `{id, name, status, reason,
httpStatus, contentType, body}`. An audit's name starts with its requirement level (MUST, SHOULD,
MAY, after RFC 2119); its status is `ok`, `notice`, `warn` or `error`.

`docs/graphql-conformance.md` lists the SHOULD/MAY audits the server is known not to pass, with
the reason, between the markers `DEVIATIONS_START` and `DEVIATIONS_END`, one `` - `ID` … `` line
each; `documented_deviations()` reads that list.

`arun_audits` does not block the event loop, so it can audit a server run by `live_server`.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# The Node harness is shared with the AG-UI checks: same package, lock file and install.
from tests.support.agui_node import (
    NODE_DIR,
    AguiNodeError,
    _node_env,
    _parse_output,
    _tool,
    ensure_node_modules,
)

AUDIT_SCRIPT = NODE_DIR / "graphql-http-audit.mjs"
CONFORMANCE_DOC = Path(__file__).resolve().parents[2] / "docs" / "graphql-conformance.md"
DEVIATIONS_START = "<!-- audit-deviations:start -->"
DEVIATIONS_END = "<!-- audit-deviations:end -->"

REQUEST_TIMEOUT_S = 10.0
AUDIT_TIMEOUT_S = 180.0
LEVELS = ("MUST", "SHOULD", "MAY")


@dataclass(frozen=True)
class AuditResult:
    id: str
    name: str
    status: str
    reason: str | None
    http_status: int | None
    content_type: str | None
    body: str | None

    @property
    def level(self) -> str:
        return self.name.split(" ", 1)[0]

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def describe(self) -> str:
        if self.ok:
            return f"{self.id} {self.name}: ok"
        return (
            f"{self.id} {self.name}: {self.status}: {self.reason} "
            f"(HTTP {self.http_status}, {self.content_type}) {self.body!r}"
        )


@dataclass(frozen=True)
class AuditReport:
    results: list[AuditResult]
    versions: dict[str, str | None]

    def by_level(self, level: str) -> list[AuditResult]:
        return [r for r in self.results if r.level == level]

    def failing(self, *levels: str) -> list[AuditResult]:
        return [r for r in self.results if r.level in levels and not r.ok]


def _report(parsed: dict[str, Any]) -> AuditReport:
    results = [
        AuditResult(
            id=str(item["id"]),
            name=str(item["name"]),
            status=str(item["status"]),
            reason=item.get("reason"),
            http_status=item.get("httpStatus"),
            content_type=item.get("contentType"),
            body=item.get("body"),
        )
        for item in parsed.get("results") or []
    ]
    unknown = [r.name for r in results if r.level not in LEVELS]
    if unknown:
        raise AguiNodeError(f"audits without a requirement level: {unknown}")
    return AuditReport(results, dict(parsed.get("versions") or {}))


async def arun_audits(url: str, *, request_timeout_s: float = REQUEST_TIMEOUT_S) -> AuditReport:
    """Run every `graphql-http` server audit against `url` (the http:// URL of /graphql)."""
    await asyncio.to_thread(ensure_node_modules)
    command = [
        _tool("node"),
        str(AUDIT_SCRIPT),
        "--url",
        url,
        "--timeout-ms",
        str(int(request_timeout_s * 1000)),
    ]
    process = await asyncio.create_subprocess_exec(
        *command,
        cwd=NODE_DIR,
        env=_node_env(),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        stdout, stderr = await asyncio.wait_for(process.communicate(), AUDIT_TIMEOUT_S)
    except TimeoutError as exc:
        process.kill()
        await process.wait()
        raise AguiNodeError(f"{AUDIT_SCRIPT.name} hung past {AUDIT_TIMEOUT_S:.0f} s") from exc
    parsed = _parse_output(
        AUDIT_SCRIPT,
        process.returncode if process.returncode is not None else -1,
        stdout.decode(),
        stderr.decode(),
    )
    return _report(parsed)


def documented_deviations(path: Path = CONFORMANCE_DOC) -> dict[str, str]:
    """The audits `docs/graphql-conformance.md` says the server does not pass: {id: line}."""
    text = path.read_text(encoding="utf-8")
    start, end = text.find(DEVIATIONS_START), text.find(DEVIATIONS_END)
    if start < 0 or end < start:
        raise AssertionError(f"{path} lacks the {DEVIATIONS_START} … {DEVIATIONS_END} list")
    deviations: dict[str, str] = {}
    for line in text[start + len(DEVIATIONS_START) : end].splitlines():
        match = re.match(r"\s*[-*]\s+`([0-9A-Za-z]+)`", line)
        if match:
            deviations[match.group(1)] = line.strip()
    return deviations
