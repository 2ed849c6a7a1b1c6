from django.urls import path

from dashboard.views.breakdown import category_detail, name_detail
from dashboard.views.errors import errors
from dashboard.views.explore import explore, export
from dashboard.views.live import live, live_rows
from dashboard.views.overview import overview
from dashboard.views.sessions import session_detail, session_list

app_name = "dashboard"

urlpatterns = [
    path("", overview, name="overview"),
    path("explore/", explore, name="explore"),
    path("explore/export.csv", export, {"fmt": "csv"}, name="export_csv"),
    path("explore/export.ndjson", export, {"fmt": "ndjson"}, name="export_ndjson"),
    path("sessions/", session_list, name="sessions"),
    path("sessions/<uuid:session_id>/", session_detail, name="session"),
    path("category/", category_detail, name="category"),
    path("name/", name_detail, name="name"),
    path("live/", live, name="live"),
    path("live/rows/", live_rows, name="live_rows"),
    path("errors/", errors, name="errors"),
]
