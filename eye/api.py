from ninja import NinjaAPI

from api.errors import register_error_handlers
from api.health import router as health_router
from api.insights import router as insights_router
from api.rendering import OrjsonRenderer
from api.views import router as events_router

api = NinjaAPI(
    title="The Eye",
    version="1.0.0",
    description="Collect application events and query them back.",
    renderer=OrjsonRenderer(),
)
register_error_handlers(api)
api.add_router("/", events_router)
api.add_router("/", health_router)
api.add_router("/", insights_router)
