from typing import Any

from ninja import NinjaAPI
from ninja.openapi.schema import OpenAPISchema

from api.errors import register_error_handlers
from api.health import router as health_router
from api.insights import router as insights_router
from api.rendering import OrjsonRenderer
from api.schemas import COMPONENT_MARK, DATA_COMPONENTS
from api.views import router as events_router


def _components_referred(node: Any) -> Any:
    """`node` with every schema marked COMPONENT_MARK replaced by a $ref to it."""
    if isinstance(node, dict):
        if COMPONENT_MARK in node:
            return {"$ref": f"#/components/schemas/{node[COMPONENT_MARK]}"}
        return {key: _components_referred(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_components_referred(item) for item in node]
    return node


class EyeApi(NinjaAPI):
    def get_openapi_schema(self, **kwargs: Any) -> OpenAPISchema:
        # `data` is described by schemas that refer to each other, which no model has.
        schema = super().get_openapi_schema(**kwargs)
        schema["paths"] = _components_referred(schema["paths"])
        schema.setdefault("components", {}).setdefault("schemas", {}).update(DATA_COMPONENTS)
        return schema


api = EyeApi(
    title="The Eye",
    version="1.0.0",
    description="Collect application events and query them back.",
    renderer=OrjsonRenderer(),
)
register_error_handlers(api)
api.add_router("/", events_router)
api.add_router("/", health_router)
api.add_router("/", insights_router)
