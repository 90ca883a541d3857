"""The base of every validated input: the rules all text must follow before it is stored."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, model_validator

_MAX_DEPTH = 32


def _storable(value: Any, depth: int = 0) -> None:
    """Raise ValueError for text no database column can hold: NUL characters (PostgreSQL text
    refuses them) and lone UTF-16 surrogates (not encodable as UTF-8), at any depth."""
    if depth > _MAX_DEPTH:
        raise ValueError(f"nested deeper than {_MAX_DEPTH} levels")
    if isinstance(value, str):
        if "\x00" in value:
            raise ValueError("text must not contain NUL characters")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError("text must be valid Unicode (no lone surrogates)") from None
    elif isinstance(value, dict):
        for key, item in value.items():
            _storable(key, depth + 1)
            _storable(item, depth + 1)
    elif isinstance(value, list | tuple):
        for item in value:
            _storable(item, depth + 1)


class Input(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _only_storable_text(cls, data: Any) -> Any:
        _storable(data)
        return data
