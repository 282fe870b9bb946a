"""The OpenAPI document and an interactive docs page that works offline.

Litestar's bundled renderers (Swagger UI, ReDoc, RapiDoc, Elements, Scalar) all load
their JavaScript and CSS from public CDNs, which a machine without internet (or a
browser behind a strict proxy) cannot reach. Here Swagger UI 5 is served from the
``swagger-ui-py`` package's copy of the assets instead, under the docs router:

- ``/schema`` and ``/schema/swagger``: Swagger UI (try-it-out included)
- ``/schema/openapi.json``: the OpenAPI 3.1 document
"""

from __future__ import annotations

import html
from importlib import resources
from importlib.resources.abc import Traversable
from typing import Any

import msgspec
from litestar import Request, Response, Router, get
from litestar.exceptions import NotFoundException
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin, OpenAPIRenderPlugin
from litestar.openapi.spec import Components, Schema, SecurityScheme, Tag
from litestar.params import FromPath
from litestar.plugins import OpenAPISchemaPlugin
from litestar.response import File
from litestar.typing import FieldDefinition

from rag.errors import DependencyError

DOCS_PATH = "/schema"
ASSET_ROUTE_NAME = "rag_swagger_asset"
ASSETS = {
    "swagger-ui.css": "text/css",
    "swagger-ui-bundle.js": "text/javascript",
    "swagger-ui-standalone-preset.js": "text/javascript",
}
"""The only files served from the package (it also ships an editor, source maps, ...)."""

INIT_ROUTE_NAME = "rag_swagger_init"
INIT_SCRIPT = """\
// Starts Swagger UI. A file rather than an inline script, so the docs page's
// Content-Security-Policy can allow scripts from this origin only (api.headers).
document.body.style.margin = "0";
window.ui = SwaggerUIBundle({
  url: document.getElementById("swagger-ui").dataset.specUrl,
  dom_id: "#swagger-ui",
  deepLinking: true,
  validatorUrl: null,
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
  layout: "BaseLayout",
});
"""

DESCRIPTION = """\
Answers questions about the indexed documents with citations to the slide or page they
come from, or abstains when the documents do not cover the question.

Every error response, on every endpoint, has the same shape:
`{"error": {"status", "code", "message", "request_id"}}`. Each response carries an
`X-Request-ID` header (the client's own when it sends a sane one).
"""


def swagger_assets_dir() -> Traversable:
    """Where ``swagger-ui-py`` keeps Swagger UI's built files."""
    try:
        return resources.files("swagger_ui") / "static"
    except ModuleNotFoundError:
        raise DependencyError("the API docs page needs the Swagger UI assets: pip install swagger-ui-py") from None


class OfflineSwaggerPlugin(OpenAPIRenderPlugin):
    """Swagger UI with its assets served by this app; nothing is fetched from elsewhere."""

    def __init__(self, assets: Traversable, path: tuple[str, ...] = ("/", "/swagger")) -> None:
        super().__init__(path=list(path), favicon="", style="")
        self.assets = assets

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        def asset(name: str) -> str:
            return html.escape(request.app.route_reverse(ASSET_ROUTE_NAME, asset=name), quote=True)

        title = html.escape(str(openapi_schema.get("info", {}).get("title", "API")))
        spec_url = html.escape(self.get_openapi_json_route(request), quote=True)
        page = f"""<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>{title}</title>
  <link rel="stylesheet" href="{asset("swagger-ui.css")}">
  {self.style}
</head>
<body>
  <div id="swagger-ui" data-spec-url="{spec_url}"></div>
  <script src="{asset("swagger-ui-bundle.js")}"></script>
  <script src="{asset("swagger-ui-standalone-preset.js")}"></script>
  <script src="{html.escape(request.app.route_reverse(INIT_ROUTE_NAME), quote=True)}"></script>
</body>
</html>
"""
        return page.encode("utf-8")

    def receive_router(self, router: Router) -> None:
        assets = self.assets

        @get(
            "/swagger-assets/{asset:str}",
            name=ASSET_ROUTE_NAME,
            include_in_schema=False,
            sync_to_thread=False,
        )
        def swagger_asset(asset: FromPath[str]) -> File:
            if asset not in ASSETS:
                raise NotFoundException()
            return File(
                path=str(assets / asset),
                filename=asset,
                media_type=ASSETS[asset],
                content_disposition_type="inline",
            )

        @get("/swagger-init.js", name=INIT_ROUTE_NAME, include_in_schema=False, sync_to_thread=False)
        def swagger_init() -> Response[bytes]:
            return Response(INIT_SCRIPT.encode(), media_type="text/javascript")

        router.register(swagger_asset)
        router.register(swagger_init)


class StructContractPlugin(OpenAPISchemaPlugin):
    """Two corrections to Litestar's schema of a msgspec ``Struct``, so the document says
    what the server enforces (found by the schemathesis fuzz test):

    - ``additionalProperties: false`` on the structs with ``forbid_unknown_fields`` (the
      request bodies): an unknown field is a 422, not ignored;
    - bounds equal to zero (``Meta(ge=0)``) kept: Litestar drops falsy constraints, so
      ``slide >= 0`` was documented as any integer.

    The schema itself is still made by Litestar's own struct plugin (the next plugin that
    supports the type).
    """

    def is_plugin_supported_field(self, field_definition: FieldDefinition) -> bool:
        type_ = field_definition.type_
        return not field_definition.is_union and isinstance(type_, type) and issubclass(type_, msgspec.Struct)

    def to_openapi_schema(self, field_definition: FieldDefinition, schema_creator: Any) -> Schema:
        others = (p for p in schema_creator.plugins if p is not self)
        litestars = next(p for p in others if schema_creator.plugin_supports_field(p, field_definition))
        schema: Schema = litestars.to_openapi_schema(field_definition, schema_creator)
        info = msgspec.inspect.type_info(field_definition.type_)
        if not isinstance(info, msgspec.inspect.StructType):  # pragma: no cover - guarded above
            return schema
        if info.forbid_unknown_fields:
            schema.additional_properties = False
        for field in info.fields:
            prop = (schema.properties or {}).get(field.encode_name)
            number = _number_type(field.type)
            if isinstance(prop, Schema) and number is not None:
                for bound, key in _BOUNDS.items():
                    if getattr(number, bound) == 0 and getattr(prop, key) is None:
                        setattr(prop, key, 0)
        return schema


_BOUNDS = {"ge": "minimum", "le": "maximum", "gt": "exclusive_minimum", "lt": "exclusive_maximum"}


def _number_type(type_: Any) -> msgspec.inspect.IntType | msgspec.inspect.FloatType | None:
    """The int or float type of a field, looking through ``Annotated`` and ``| None``."""
    if isinstance(type_, msgspec.inspect.UnionType):
        arms = [t for t in type_.types if not isinstance(t, msgspec.inspect.NoneType)]
        type_ = arms[0] if len(arms) == 1 else None
    if isinstance(type_, msgspec.inspect.Metadata):
        type_ = type_.type
    return type_ if isinstance(type_, msgspec.inspect.IntType | msgspec.inspect.FloatType) else None


def openapi_config(*, version: str, require_keys: bool) -> OpenAPIConfig:
    """The OpenAPI document, served with the offline Swagger UI under :data:`DOCS_PATH`."""
    auth = (
        "Every `/v1` call needs `Authorization: Bearer <key>` or `X-API-Key: <key>`."
        if require_keys
        else "This server has no API keys configured: `/v1` is open to whoever can reach it."
    )
    return OpenAPIConfig(
        title="Retrieval question answering",
        version=version,
        description=f"{DESCRIPTION}\n{auth}",
        path=DOCS_PATH,
        render_plugins=[OfflineSwaggerPlugin(swagger_assets_dir()), JsonRenderPlugin()],
        components=Components(
            security_schemes={
                "BearerAuth": SecurityScheme(type="http", scheme="bearer", description="An API key as bearer token."),
                "ApiKeyAuth": SecurityScheme(
                    type="apiKey", name="X-API-Key", security_scheme_in="header", description="An API key."
                ),
            }
        ),
        tags=[
            Tag(name="v1", description="Questions, passages and documents."),
            Tag(name="operations", description="Health, readiness and metrics (no key needed)."),
        ],
    )
