"""Self-hosted GraphiQL for air-gapped deployments.

Strawberry's GraphiQL page (``strawberry/static/graphiql.html``) loads React,
GraphiQL, js-cookie and the explorer plugin from unpkg.com. Deployments
without internet access would get a blank "Loading..." page, so we serve
byte-identical copies of those files ourselves (vendored by
``scripts/vendor-graphiql.sh``) and point the page at them.

The page's ``integrity`` (SRI) attributes are kept: the vendored files are the
exact npm artefacts, so the hashes still match and the browser keeps verifying
them. ``crossorigin`` is harmless for same-origin requests and is kept too.
"""

from __future__ import annotations

import pathlib
import re
from typing import TYPE_CHECKING, Final

from starlette.staticfiles import StaticFiles
from strawberry.http.ides import get_graphql_ide_html

if TYPE_CHECKING:
    from starlette.applications import Starlette

__all__ = [
    "ASSETS_DIR",
    "ASSETS_URL_PREFIX",
    "mount_graphiql_assets",
    "render_graphiql_page",
]

ASSETS_DIR: pathlib.Path = pathlib.Path(__file__).resolve().parent / "vendor"
ASSETS_URL_PREFIX: Final = "/static/graphiql"

# https://unpkg.com/<package>@<version>/<file>, package possibly scoped.
_UNPKG_URL = re.compile(
    r"https://unpkg\.com/(?P<package>(?:@[^/\"'@]+/)?[^/\"'@]+)@[^/\"']+/(?P<file>[^\"'?#]+)"
)
# The fetcher option that makes GraphiQL use websockets for subscriptions.
_SUBSCRIPTION_URL_OPTION = re.compile(r"^[ \t]*subscriptionUrl,[ \t]*\n", re.MULTILINE)


def _local_url(match: re.Match[str]) -> str:
    relative = f"{match['package']}/{match['file']}"
    if not (ASSETS_DIR / relative).is_file():
        msg = (
            f"{match[0]} is not vendored in {ASSETS_DIR}; "
            "re-run scripts/vendor-graphiql.sh for the installed strawberry-graphql"
        )
        raise RuntimeError(msg)
    return f"{ASSETS_URL_PREFIX}/{relative}"


def render_graphiql_page(subscription_enabled: bool = True) -> str:
    """Return Strawberry's GraphiQL page, loading its assets from this server.

    Starts from Strawberry's own page (``get_graphql_ide_html``, which does no
    template substitution in this Strawberry version) and rewrites every
    unpkg.com URL to ``ASSETS_URL_PREFIX``. With ``subscription_enabled=False``
    the fetcher gets no ``subscriptionUrl``, so GraphiQL never opens a
    websocket.
    """
    html = _UNPKG_URL.sub(_local_url, get_graphql_ide_html(graphql_ide="graphiql"))
    if not subscription_enabled:
        html, count = _SUBSCRIPTION_URL_OPTION.subn("", html)
        if count != 1:
            msg = "cannot find the subscriptionUrl fetcher option in Strawberry's graphiql.html"
            raise RuntimeError(msg)
    return html


def mount_graphiql_assets(app: Starlette) -> None:
    """Serve the vendored GraphiQL files at ``ASSETS_URL_PREFIX``."""
    app.mount(
        ASSETS_URL_PREFIX,
        StaticFiles(directory=ASSETS_DIR),
        name="graphiql-assets",
    )
