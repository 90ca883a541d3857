"""IANA time zone names: which ones we accept, and the zone a user's dates are read in."""

from __future__ import annotations

from functools import lru_cache
from zoneinfo import available_timezones

DEFAULT_TIMEZONE = "UTC"


# Files of a system tz database that are not zones a user chooses (zoneinfo lists some of them).
_NOT_ZONES = frozenset({"localtime", "posixrules", "Factory"})


@lru_cache(maxsize=1)
def _known() -> frozenset[str]:
    # The names the system's tz database (or the tzdata package) provides; a plain ZoneInfo()
    # call would also accept any file under the database's directory.
    return frozenset(
        name
        for name in available_timezones()
        if name not in _NOT_ZONES and not name.startswith(("posix/", "right/"))
    )


def is_timezone(name: object) -> bool:
    """Whether `name` is an IANA zone name such as `Asia/Shanghai` or `UTC`."""
    return isinstance(name, str) and name in _known()


def check_timezone(name: str) -> str:
    """A pydantic validator: the name itself when it is a zone, ValueError otherwise."""
    if not is_timezone(name):
        raise ValueError("must be an IANA time zone name such as 'Europe/Berlin' or 'UTC'")
    return name
