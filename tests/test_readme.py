"""The README's walkthrough, run as written against a fresh zero-configuration `runtime-api serve`.

Every `sh` block between the `readme-test: walkthrough` and `readme-test: end` markers of
README.md is run, one command (a line with its `\\` continuations) at a time, by bash, in order,
the way a reader pastes it into a terminal: variables exported by one command are seen by the
next. What the reader fills in by hand is filled in from what the server said: the placeholders
`<...>` from the console mailer's log, the earlier answers and the watched event stream; and
`localhost:8000` becomes the test server's address. The `curl -N` watch runs in the background,
as in its own terminal. A body the server refuses (any 4xx/5xx) fails the test, and so does a
walkthrough step this test expects (sign-up, verify, sign-in, `me`, run, resume) going missing.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.support.server_process import REPO_ROOT, ServerProcess, child_env, running_server

README = REPO_ROOT / "README.md"
BEGIN = re.compile(r"<!-- readme-test: walkthrough\b.*?-->")
END = "<!-- readme-test: end -->"
SH_BLOCK = re.compile(r"^```sh\n(.*?)^```", re.DOTALL | re.MULTILINE)
PLACEHOLDER = re.compile(r"<([a-z][^<>\n]*)>")
README_ADDRESS = re.compile(r"\blocalhost:8000\b")
# Appended to every answer by the `curl` wrapper: status and URL, so each step can be checked.
STATUS_LINE = re.compile(r"^HTTP (\d{3}) (\S+)$", re.MULTILINE)
CURL_WRAPPER = r"""curl() { command curl -sS -w '\nHTTP %{http_code} %{url_effective}\n' "$@"; }"""
MAILED_CODE = r"mail to \S+ \|[^\n]*?\b(\d{6})\b"
STEP_TIMEOUT_S = 20.0
EVENT_TIMEOUT_S = 15.0

# The statuses the walkthrough's steps must answer, by the end of the URL's path.
EXPECTED_STEPS = {
    "/auth/verifications": 202,
    "/auth/verify": 200,
    "/auth/sessions": 200,
    "/users/me": 200,
    "/agent/runs": 202,
    "/resume": 202,
}


def walkthrough_commands(readme: str) -> list[str]:
    """The shell commands of the walkthrough's `sh` blocks, in order, continuations joined."""
    begin = BEGIN.search(readme)
    assert begin, "README.md lost its `<!-- readme-test: walkthrough -->` marker"
    end = readme.find(END, begin.end())
    assert end != -1, f"README.md lost its `{END}` marker"
    commands: list[str] = []
    for block in SH_BLOCK.findall(readme[begin.end() : end]):
        pending = ""
        for line in block.splitlines():
            pending += line
            if pending.endswith("\\"):
                pending = pending[:-1]  # what bash does with a backslash-newline
                continue
            if pending.strip() and not pending.lstrip().startswith("#"):
                commands.append(pending.strip())
            pending = ""
    return commands


@dataclass
class Answer:
    status: int
    url: str
    body: Any  # the parsed JSON, or the text when it is not JSON


def answers_in(output: str) -> list[Answer]:
    """Each answer the wrapped `curl` printed: the body, then its status line."""
    answers: list[Answer] = []
    start = 0
    for match in STATUS_LINE.finditer(output):
        text = output[start : match.start()].strip()
        start = match.end()
        try:
            body: Any = json.loads(text) if text else None
        except json.JSONDecodeError:
            body = text
        answers.append(Answer(int(match[1]), match[2], body))
    return answers


def sse_events(text: str) -> list[dict[str, Any]]:
    return [json.loads(line[6:]) for line in text.splitlines() if line.startswith("data: ")]


@dataclass
class Walk:
    """A reader at a terminal: the server, the shell's exported state, what was answered."""

    server: ServerProcess
    workdir: Path
    answers: list[Answer] = field(default_factory=list)
    watchers: list[tuple[subprocess.Popen[bytes], Path]] = field(default_factory=list)
    log_mark: int = 0

    @property
    def state(self) -> Path:
        return self.workdir / "exported.sh"

    def script(self, command: str) -> str:
        """Bash that restores the previous command's exports, runs this one, saves them."""
        state = shlex.quote(str(self.state))
        return (
            f"set -eu\n[ -f {state} ] && source {state}\n{CURL_WRAPPER}\n"
            f"{command}\nexport -p > {state}\n"
        )

    def env(self) -> dict[str, str]:
        env = child_env()
        # `python` in the README is the interpreter running the tests.
        env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
        return env

    def run(self, command: str) -> None:
        self.log_mark = len(self.server.log())
        completed = subprocess.run(
            ["bash", "-c", self.script(command)],
            cwd=self.workdir,
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=STEP_TIMEOUT_S,
            check=False,
        )
        assert completed.returncode == 0, (
            f"README command failed ({completed.returncode}):\n{command}\n{completed.stderr}"
        )
        for answer in answers_in(completed.stdout):
            assert answer.status < 400, (
                f"the server refused a README command with {answer.status}:\n"
                f"{command}\n{answer.body}"
            )
            self.answers.append(answer)

    def watch(self, command: str) -> None:
        """A long-running command, left running as in a second terminal."""
        output = self.workdir / f"watch-{len(self.watchers)}.txt"
        with output.open("wb") as sink:
            process = subprocess.Popen(
                ["bash", "-c", self.script(f"exec {command}")],
                cwd=self.workdir,
                env=self.env(),
                stdout=sink,
                stderr=subprocess.STDOUT,
            )
        self.watchers.append((process, output))

    def watched_events(self) -> list[dict[str, Any]]:
        return [event for _, output in self.watchers for event in sse_events(output.read_text())]

    def wait_for_event(self, matches: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        assert self.watchers, "the README starts no `curl -N` watch of the events"
        deadline = time.monotonic() + EVENT_TIMEOUT_S
        while time.monotonic() < deadline:
            for event in self.watched_events():
                if matches(event):
                    return event
            time.sleep(0.05)
        raise AssertionError(f"no such event on the watched stream: {self.watched_events()}")

    # --- what the reader fills in -----------------------------------------------------------

    def code_from_the_log(self) -> str:
        """The code of the mail the previous command had sent (the subject line names it)."""
        return self.server.wait_for_log(MAILED_CODE, after=self.log_mark)[1]

    def access_token_from_the_answer(self) -> str:
        for answer in reversed(self.answers):
            if isinstance(answer.body, dict) and "access_token" in answer.body:
                return str(answer.body["access_token"])
        raise AssertionError("no earlier answer holds an access_token")

    def id_of_the_interrupt(self) -> str:
        finished = self.wait_for_event(
            lambda e: e["type"] == "RUN_FINISHED" and e["outcome"]["type"] == "interrupt"
        )
        return str(finished["outcome"]["interrupts"][0]["id"])

    def fill_in(self, command: str) -> str:
        fillers: dict[str, Callable[[], str]] = {
            "code from the log": self.code_from_the_log,
            "access_token from the answer": self.access_token_from_the_answer,
            "id of the interrupt": self.id_of_the_interrupt,
        }

        def filled(match: re.Match[str]) -> str:
            filler = fillers.get(match[1])
            assert filler, f"README placeholder {match[0]} is unknown to tests/test_readme.py"
            return filler()

        command = PLACEHOLDER.sub(filled, command)
        return README_ADDRESS.sub(self.server.base_url.removeprefix("http://"), command)

    def stop_watchers(self) -> None:
        for process, _ in self.watchers:
            if process.poll() is None:
                process.terminate()
                with contextlib.suppress(subprocess.TimeoutExpired):
                    process.wait(timeout=5)
                if process.poll() is None:
                    process.kill()
                    process.wait()


@pytest.fixture
def walk(tmp_path: Path) -> Iterator[Walk]:
    # The README's first command: `runtime-api serve` with no configuration at all.
    with running_server(tmp_path / "server", env={}) as server:
        walk = Walk(server, tmp_path)
        try:
            yield walk
        finally:
            walk.stop_watchers()


def test_the_readme_walkthrough_works_as_written(walk: Walk) -> None:
    commands = walkthrough_commands(README.read_text(encoding="utf-8"))
    assert commands, "the README walkthrough has no sh blocks"
    for command in commands:
        filled = walk.fill_in(command)
        if re.search(r"\bcurl\b.*\s-N\b", filled):
            walk.watch(filled)
        else:
            walk.run(filled)

    # Every step answered as it should: the path's end names the step.
    statuses = {
        suffix: [a.status for a in walk.answers if a.url.split("?")[0].endswith(suffix)]
        for suffix in EXPECTED_STEPS
    }
    for suffix, expected in EXPECTED_STEPS.items():
        assert statuses[suffix], f"the README walkthrough no longer shows {suffix}"
        assert set(statuses[suffix]) == {expected}, (suffix, statuses[suffix])
    me = next(a.body for a in walk.answers if a.url.endswith("/users/me"))
    assert set(me) >= {"id", "username"}, me
    for answer in walk.answers:
        if answer.url.endswith(("/agent/runs", "/resume")):
            assert answer.body["created"] is True, answer.body

    # The watch saw the run stop for approval, then the approved tool run and the thread finish.
    walk.wait_for_event(lambda e: e["type"] == "RUN_FINISHED" and e["outcome"]["type"] == "success")
    events = walk.watched_events()
    finished = [e["outcome"]["type"] for e in events if e["type"] == "RUN_FINISHED"]
    assert finished == ["interrupt", "success"], finished
    results = [e for e in events if e["type"] == "TOOL_CALL_RESULT"]
    assert results and json.loads(results[-1]["content"])["ok"] is True, results


def test_the_walkthrough_parser_joins_continuations_and_skips_other_blocks() -> None:
    readme = (
        "```sh\nnot this\n```\n<!-- readme-test: walkthrough -->\n"
        "```sh\ncurl a \\\n  -d '{}'\n# a comment\necho b\n```\n"
        "```json\n{}\n```\n<!-- readme-test: end -->\n```sh\nnor this\n```\n"
    )
    assert walkthrough_commands(readme) == ["curl a   -d '{}'", "echo b"]
