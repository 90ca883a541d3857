"""The documentation cannot drift from the app: routes, GraphQL SDL and OpenAPI snapshots; and no
file cites a section of docs/contract.md that it does not have, or a document the repository
does not hold."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

from server.app import create_app
from server.cli import build_parser
from server.exports import _settings, openapi_json, schema_sdl

DOCS = Path(__file__).resolve().parent.parent / "docs"
REPO = DOCS.parent
PROBLEM = "application/problem+json"


def app_routes() -> set[str]:
    # FastAPI nests included routers, so the OpenAPI document is the flat list of routes;
    # no /api/v1 route is excluded from it (include_in_schema stays on).
    document = create_app(_settings(), manage_database=False).openapi()
    routes = {
        f"{method.upper()} {path}"
        for path, operations in document["paths"].items()
        for method in operations
    }
    assert routes, "the app serves no routes?"
    return routes


def documented_routes() -> set[str]:
    text = (DOCS / "api-routes.md").read_text()
    return set(re.findall(r"^### ([A-Z]+ /\S+)$", text, flags=re.MULTILINE))


def test_every_route_is_documented_and_every_documented_route_exists() -> None:
    served, documented = app_routes(), documented_routes()
    assert served - documented == set(), "routes missing from docs/api-routes.md"
    assert documented - served == set(), "docs/api-routes.md names routes the app lacks"


def test_graphql_schema_snapshot_is_current() -> None:
    assert (DOCS / "schema.graphql").read_text() == schema_sdl(), (
        "docs/schema.graphql is stale: run scripts/update-snapshots.sh"
    )


def test_openapi_snapshot_is_current() -> None:
    assert (DOCS / "openapi.json").read_text() == openapi_json(), (
        "docs/openapi.json is stale: run scripts/update-snapshots.sh"
    )


def test_openapi_lists_the_problem_responses_of_each_route() -> None:
    document = json.loads(openapi_json())
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            where = f"{method.upper()} {path}"
            if operation.get("security"):
                assert "401" in responses, f"{where} needs 401"
            if operation.get("requestBody") or operation.get("parameters"):
                assert "422" in responses, f"{where} needs 422"
            for status, response in responses.items():
                if int(status) >= 400:
                    assert PROBLEM in response["content"], f"{where} {status} is not a problem"


# --- references to docs/contract.md --------------------------------------------------------
# The patterns are spelled so that they do not match this file's own text.

# Files people read; vendored bundles and installed packages are not ours to fix.
SCANNED_SUFFIXES = {".py", ".md", ".mjs", ".js", ".sh", ".toml", ".yml", ".yaml", ".txt", ".lua"}
SCANNED_NAMES = {"run", "Dockerfile"}
SKIPPED_FOLDERS = {"vendor", "node_modules"}
# A section sign cites the contract unless an RFC is named right before it (RFC 7518 §3.2).
SECTION = re.compile(r"(RFC \d+ )?\u00a7(\d+)")
ANCHOR = re.compile(r"contract\.md#([\w-]+)")
# The contract's former name and the folder outside the repository it lived in.
STALE = re.compile(r"CONTRACT[ .]|shared[/]spec|\.\./shared/")


def heading_slug(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces as hyphens."""
    kept = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return kept.replace(" ", "-")


def contract_headings() -> tuple[set[int], set[str]]:
    """The numbered sections of docs/contract.md (`## 3. ...`) and the anchors of all headings."""
    text = (DOCS / "contract.md").read_text()
    numbers = {int(n) for n in re.findall(r"^## (\d+)\. ", text, flags=re.MULTILINE)}
    headings = re.findall(r"^#+ (.+)$", text, flags=re.MULTILINE)
    return numbers, {heading_slug(heading) for heading in headings}


def scanned_files() -> Iterator[tuple[str, str]]:
    """Every file of the checkout that git tracks or would track (new files included)."""
    listing = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    for name in listing:
        path = REPO / name
        if SKIPPED_FOLDERS.intersection(path.parts) or not path.is_file():
            continue
        if path.suffix in SCANNED_SUFFIXES or path.name in SCANNED_NAMES:
            yield name, path.read_text(errors="replace")


def broken_references(text: str, sections: set[int], anchors: set[str]) -> list[str]:
    """What in `text` leads nowhere: a contract section or anchor that does not exist, a section
    cited in a file that never says which document it means, a document outside the repository."""
    cited = [int(m.group(2)) for m in SECTION.finditer(text) if m.group(1) is None]
    broken = [
        f"\u00a7{n}: docs/contract.md has no such section" for n in cited if n not in sections
    ]
    if cited and "contract.md" not in text:
        broken.append("cites a section without naming docs/contract.md")
    broken += [
        f"#{anchor}: docs/contract.md has no such heading"
        for anchor in ANCHOR.findall(text)
        if anchor not in anchors
    ]
    broken += [f"{m.group(0)!r}: not in this repository" for m in STALE.finditer(text)]
    return broken


def test_the_reference_check_flags_what_leads_nowhere() -> None:
    sections, anchors = {1, 2}, {"1-command-line"}
    cited = "docs/contract.md \u00a72 and \u00a71, as RFC 7518 \u00a73.2 asks"
    assert broken_references(cited, sections, anchors) == []
    assert broken_references("contract.md" + "#1-command-line", sections, anchors) == []
    assert len(broken_references("docs/contract.md \u00a73", sections, anchors)) == 1
    assert len(broken_references("the contract, \u00a71", sections, anchors)) == 1
    assert len(broken_references("contract.md" + "#2-errors", sections, anchors)) == 1
    assert len(broken_references("CONTRACT" + " \u00a71", sections, anchors)) == 2
    assert len(broken_references("shared" + "/spec/x.txt", sections, anchors)) == 1
    assert len(broken_references("../shared" + "/notes.md", sections, anchors)) == 1


def test_every_reference_to_the_contract_names_one_of_its_sections() -> None:
    sections, anchors = contract_headings()
    assert sections == set(range(1, max(sections) + 1)), "docs/contract.md: sections not 1..N"
    broken = [
        f"{name}: {problem}"
        for name, text in scanned_files()
        for problem in broken_references(text, sections, anchors)
    ]
    assert broken == []


def test_the_command_line_help_stands_alone() -> None:
    """`runtime-api --help` is read where no docs are at hand: it cites no document."""
    text = build_parser().format_help()
    assert "serve" in text and "DATABASE_URL" in text
    assert "\u00a7" not in text and ".md" not in text
