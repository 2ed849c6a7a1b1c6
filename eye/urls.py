from django.urls import path

from eye.api import api

urlpatterns = [
    path("api/", api.urls),
]
