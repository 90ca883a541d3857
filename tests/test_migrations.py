"""The committed migrations build exactly the schema the models expect.

Two independent checks: the migrated database has every column each model reads and writes
(with the model's nullability), and Tortoise's autodetector — what `tortoise makemigrations` runs
— finds nothing left to migrate. The first one matters on its own: the autodetector once wrote a
migration that silently left out the foreign-key columns of a model cycle, and agreed with
itself afterwards.
"""

from __future__ import annotations

from typing import Any

import pytest
from tortoise import Tortoise
from tortoise.connection import get_connection
from tortoise.migrations.autodetector import MigrationAutodetector
from tortoise.models import Model

from infra.database import APP_LABEL, tortoise_config
from tests.conftest import BACKEND, base_settings


def models() -> list[type[Model]]:
    apps = Tortoise.apps
    assert apps is not None, "Tortoise is not initialised"
    found = list(apps[APP_LABEL].values())
    assert found, "no models registered"
    return found


async def table_columns(table: str) -> dict[str, bool]:
    """Column name -> nullable, as the database has them."""
    connection = get_connection("default")
    if BACKEND.real:
        rows = await connection.execute_query_dict(
            "SELECT column_name, is_nullable FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND table_name = $1",
            [table],
        )
        return {row["column_name"]: row["is_nullable"] == "YES" for row in rows}
    rows = await connection.execute_query_dict(f'PRAGMA table_info("{table}")')
    return {row["name"]: not (row["notnull"] or row["pk"]) for row in rows}


def expected_columns(model: type[Model]) -> dict[str, bool]:
    """Column name -> nullable, as the model expects them (foreign keys as their `_id`)."""
    meta = model._meta
    columns: dict[str, bool] = {}
    for field_name, column in meta.fields_db_projection.items():
        field = meta.fields_map[field_name]
        columns[column] = bool(field.null) and not field.pk
    return columns


@pytest.mark.usefixtures("db")
async def test_every_model_column_exists() -> None:
    problems: list[str] = []
    checked = 0
    for model in models():
        table = model._meta.db_table
        actual = await table_columns(table)
        if not actual:
            problems.append(f"{model.__name__}: table {table!r} is missing")
            continue
        for column, nullable in expected_columns(model).items():
            checked += 1
            if column not in actual:
                problems.append(f"{model.__name__}: column {table}.{column} is missing")
            elif actual[column] != nullable:
                want = "NULL" if nullable else "NOT NULL"
                problems.append(f"{model.__name__}: {table}.{column} should be {want}")
        for m2m in model._meta.m2m_fields:
            through = model._meta.fields_map[m2m].through  # type: ignore[attr-defined]
            if not await table_columns(through):
                problems.append(f"{model.__name__}.{m2m}: join table {through!r} is missing")
    assert not problems, "\n".join(problems)
    assert checked > 20


@pytest.mark.usefixtures("db")
async def test_foreign_keys_have_columns() -> None:
    """The case that once broke: every FK/O2O of every model is a real column."""
    missing: list[str] = []
    for model in models():
        actual = await table_columns(model._meta.db_table)
        for name in (*model._meta.fk_fields, *model._meta.o2o_fields):
            source: Any = model._meta.fields_map[name].source_field
            column = model._meta.fields_db_projection[source]
            if column not in actual:
                missing.append(f"{model._meta.db_table}.{column}")
    assert not missing, missing


async def test_no_pending_model_changes(db: str) -> None:
    """`tortoise makemigrations` would write nothing: models and migrations agree."""
    apps_config = tortoise_config(base_settings(db))["apps"]
    assert Tortoise.apps is not None
    writers = await MigrationAutodetector(Tortoise.apps, apps_config).changes()
    pending = [
        f"{writer.app_label}: {operation.describe()}"
        if hasattr(operation, "describe")
        else f"{writer.app_label}: {operation!r}"
        for writer in writers
        for operation in writer.operations
    ]
    assert not pending, "models changed without a migration:\n" + "\n".join(pending)
