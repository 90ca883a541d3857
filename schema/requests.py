"""From a GraphQL input to the resolver's pydantic input model: one validation, two transports."""

from __future__ import annotations

from enum import Enum
from typing import Any, TypeVar

import strawberry
from pydantic import BaseModel

RequestT = TypeVar("RequestT", bound=BaseModel)


def to_request(model: type[RequestT], source: object | None = None, **values: Any) -> RequestT:
    """Build the resolver's input model; unset optional fields stay unset (PATCH semantics).
    A pydantic ValidationError raised here reaches the client as BAD_USER_INPUT."""
    if source is not None:
        for name, value in vars(source).items():
            if value is strawberry.UNSET:
                continue
            values[name] = value.value if isinstance(value, Enum) else value
    return model.model_validate(values)
