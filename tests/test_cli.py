"""`runtime-api` from the command line (docs/contract.md §1), run as a subprocess on a fresh SQLite
file in an empty working directory, as an operator would."""

from __future__ import annotations

import contextlib
import json
import re
import sqlite3
import urllib.request
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

import models
from resolvers.account_inputs import INVITE_ALPHABET
from tests.support.server_process import run_cli, running_server

# Every model's table: `migrate` builds them all.
TABLES = {getattr(models, name)._meta.db_table for name in models.__all__}


@pytest.fixture(scope="module")
def migrated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """A working directory and the environment of a migrated SQLite database."""
    cwd = tmp_path_factory.mktemp("cli")
    env = {"DATABASE_URL": f"sqlite://{cwd / 'cli.db'}"}
    result = run_cli("migrate", cwd=cwd, env=env)
    assert result.returncode == 0, result.stderr
    return cwd, env


@pytest.fixture
def database(migrated: tuple[Path, dict[str, str]]) -> Iterator[sqlite3.Connection]:
    connection = sqlite3.connect(migrated[0] / "cli.db")
    connection.row_factory = sqlite3.Row
    try:
        yield connection
    finally:
        connection.close()


def tables(path: Path) -> set[str]:
    with contextlib.closing(sqlite3.connect(path)) as connection:
        rows = connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        return {row[0] for row in rows}


def test_migrate_creates_the_tables(migrated: tuple[Path, dict[str, str]]) -> None:
    cwd, env = migrated
    assert tables(cwd / "cli.db") >= TABLES
    # Applying again is a no-op, not an error.
    again = run_cli("migrate", cwd=cwd, env=env)
    assert again.returncode == 0, again.stderr
    assert "migrations applied" in again.stderr
    assert tables(cwd / "cli.db") >= TABLES


def test_invite_code_create(
    migrated: tuple[Path, dict[str, str]], database: sqlite3.Connection
) -> None:
    cwd, env = migrated
    result = run_cli("invite-codes", "create", "--max-uses", "3", cwd=cwd, env=env)
    assert result.returncode == 0, result.stderr
    code = result.stdout.strip()
    assert len(code) == 8 and set(code) <= set(INVITE_ALPHABET), result.stdout
    row = database.execute("SELECT * FROM invite_codes WHERE code = ?", (code,)).fetchone()
    assert row is not None
    assert row["max_uses"] == 3
    assert row["uses"] == 0
    assert row["owner_id"] is None
    assert not row["personal"] and not row["disabled"]
    assert row["expires_at"] is None


def test_invite_code_create_with_expiry(
    migrated: tuple[Path, dict[str, str]], database: sqlite3.Connection
) -> None:
    cwd, env = migrated
    args = ("invite-codes", "create", "--expires-at", "2031-01-02T03:04:05+00:00")
    result = run_cli(*args, cwd=cwd, env=env)
    assert result.returncode == 0, result.stderr
    code = result.stdout.strip()
    row = database.execute("SELECT * FROM invite_codes WHERE code = ?", (code,)).fetchone()
    assert row["max_uses"] == 1  # single use unless told otherwise
    assert str(row["expires_at"]).startswith("2031-01-02")

    naive = run_cli("invite-codes", "create", "--expires-at", "2031-01-02T03:04", cwd=cwd, env=env)
    assert naive.returncode != 0
    assert "offset" in naive.stderr


def insert_user(database: sqlite3.Connection, email: str) -> str:
    user_id = str(uuid.uuid4())
    username = f"cli_{user_id[:8]}"
    database.execute(
        "INSERT INTO users (id, username, username_key, email, email_key, password_hash, role, "
        "created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (
            user_id,
            username,
            username,
            email,
            email.lower(),
            "!unusable",
            "authenticated",
            datetime.now(UTC).isoformat(),
        ),
    )
    database.commit()
    return user_id


def role_of(database: sqlite3.Connection, user_id: str) -> str:
    row = database.execute("SELECT role FROM users WHERE id = ?", (user_id,)).fetchone()
    return str(row["role"])


def test_users_set_role(
    migrated: tuple[Path, dict[str, str]], database: sqlite3.Connection
) -> None:
    cwd, env = migrated
    user_id = insert_user(database, "Admin.To.Be@example.com")

    # Emails are matched case-insensitively, as everywhere else.
    result = run_cli("users", "set-role", "admin.to.be@EXAMPLE.com", "admin", cwd=cwd, env=env)
    assert result.returncode == 0, result.stderr
    assert "admin" in result.stdout
    assert role_of(database, user_id) == "admin"


def test_users_set_role_unknown_email(migrated: tuple[Path, dict[str, str]]) -> None:
    cwd, env = migrated
    result = run_cli("users", "set-role", "nobody@example.com", "admin", cwd=cwd, env=env)
    assert result.returncode != 0
    assert "No user has this email address" in result.stderr
    assert "Traceback" not in result.stderr


def test_users_set_role_rejects_unknown_roles(migrated: tuple[Path, dict[str, str]]) -> None:
    cwd, env = migrated
    result = run_cli("users", "set-role", "x@example.com", "root", cwd=cwd, env=env)
    assert result.returncode == 2  # argparse: usage error
    assert "invalid choice" in result.stderr


def test_export_schema(tmp_path: Path) -> None:
    result = run_cli("export-schema", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    sdl = result.stdout
    for binding in ("type Query {", "type Mutation {", "me: Me!", "health: Health!"):
        assert binding in sdl
    assert not (tmp_path / "data").exists()  # exporting touches no database


def test_export_openapi(tmp_path: Path) -> None:
    result = run_cli("export-openapi", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["openapi"].startswith("3.")
    paths = document["paths"]
    assert "/api/v1/health" in paths and "/api/v1/users/me" in paths
    assert all(path.startswith("/api/v1/") for path in paths), sorted(paths)
    assert not (tmp_path / "data").exists()


def test_production_refuses_to_start_without_a_long_secret(tmp_path: Path) -> None:
    for env in ({"ENV": "production"}, {"ENV": "production", "JWT_SECRET": "short"}):
        result = run_cli("export-schema", cwd=tmp_path, env=env)
        assert result.returncode == 0  # exports need no secret
        served = run_cli("migrate", cwd=tmp_path, env=env)
        assert served.returncode != 0 and "JWT_SECRET" in served.stderr, served.stderr


def test_serve_names_its_sqlite_file_and_logs_console_mail_at_info(tmp_path: Path) -> None:
    """The default database is relative to the working directory: the log gives its absolute
    path (a server started elsewhere opens another, empty one). Console mail is ordinary
    information, at INFO, not a warning."""
    cwd = tmp_path / "elsewhere"
    with running_server(cwd, env={}) as server:
        database = (cwd / "data" / "runtime.db").resolve()
        server.wait_for_log(rf"INFO runtime_api: SQLite database: {re.escape(str(database))}\n")
        assert database.is_file()
        signup = {"username": "infomail", "email": "info@example.com", "password": "pass word 1"}
        request = urllib.request.Request(
            f"{server.base_url}/api/v1/auth/verifications",
            data=json.dumps(signup).encode(),
            headers={"content-type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 202
        server.wait_for_log(r"INFO infra\.mail\.console: mail to info@example\.com \| .*\d{6}")
