"""Settings for one test or module, as a mark: the values reach the `settings` fixture of
tests/conftest.py through its `settings_overrides`."""

from __future__ import annotations

from typing import Any

import pytest


def with_settings(**values: Any) -> pytest.MarkDecorator:
    """`@with_settings(max_body_bytes=4096)`: the app under test runs with these settings."""
    return pytest.mark.parametrize("settings_overrides", [values], indirect=True)
