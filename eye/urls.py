from django.urls import path

from api.metrics import metrics_view
from eye.api import api

urlpatterns = [
    path("api/", api.urls),
    path("metrics", metrics_view, name="metrics"),
]
