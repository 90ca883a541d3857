"""Self-hosted Swagger UI at /docs, for deployments without internet access.

FastAPI's own /docs page loads Swagger UI's script and stylesheet from a CDN (and its favicon
from fastapi.tiangolo.com), so offline it is a blank page. The app is therefore built with
``docs_url=None`` and this module serves the same page, rendered by FastAPI's
``get_swagger_ui_html``, with every asset coming from this server: byte-identical copies of the
npm ``swagger-ui-dist`` files, vendored by ``scripts/vendor-swagger-ui.sh``.
"""

from __future__ import annotations

import pathlib
from typing import Final

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.staticfiles import StaticFiles

__all__ = ["ASSETS_DIR", "ASSETS_URL_PREFIX", "DOCS_URL", "install_swagger_ui"]

ASSETS_DIR: Final = pathlib.Path(__file__).resolve().parent / "vendor"
ASSETS_URL_PREFIX: Final = "/static/swagger-ui"
DOCS_URL: Final = "/docs"
# Where FastAPI's default page has it; kept so the page's OAuth2 support works as before.
OAUTH2_REDIRECT_URL: Final = f"{DOCS_URL}/oauth2-redirect"


def install_swagger_ui(app: FastAPI) -> None:
    """Serve Swagger UI at ``DOCS_URL`` (and its OAuth2 redirect page) from the vendored assets.

    The app must have been built with ``docs_url=None`` (else FastAPI's CDN page takes the path
    first) and with an ``openapi_url``, which the page loads.
    """
    if app.openapi_url is None:
        msg = "Swagger UI needs the app's openapi_url"
        raise RuntimeError(msg)
    openapi_url = app.openapi_url
    title = f"{app.title} - Swagger UI"

    async def swagger_ui_page(request: Request) -> HTMLResponse:
        # Behind a proxy that strips a path prefix, every URL the page loads needs it back.
        root = request.scope.get("root_path", "").rstrip("/")
        return get_swagger_ui_html(
            openapi_url=root + openapi_url,
            title=title,
            swagger_js_url=f"{root}{ASSETS_URL_PREFIX}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{ASSETS_URL_PREFIX}/swagger-ui.css",
            swagger_favicon_url=f"{root}{ASSETS_URL_PREFIX}/favicon-32x32.png",
            oauth2_redirect_url=root + OAUTH2_REDIRECT_URL,
            init_oauth=app.swagger_ui_init_oauth,
            swagger_ui_parameters=app.swagger_ui_parameters,
        )

    async def oauth2_redirect_page(_: Request) -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    app.add_route(DOCS_URL, swagger_ui_page, include_in_schema=False)
    app.add_route(OAUTH2_REDIRECT_URL, oauth2_redirect_page, include_in_schema=False)
    app.mount(ASSETS_URL_PREFIX, StaticFiles(directory=ASSETS_DIR), name="swagger-ui-assets")
