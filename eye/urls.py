from django.contrib.auth import views as auth_views
from django.urls import include, path

from api.metrics import metrics_view
from eye.api import api
from eye.tracker import tracker_view

urlpatterns = [
    path("api/", api.urls),
    path("metrics", metrics_view, name="metrics"),
    path("eye.js", tracker_view, name="tracker"),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    # Logout is a POST (with its CSRF token) so that a link or an image cannot sign anyone out.
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", include("dashboard.urls")),
]

# Under /api/ these answer in the API's JSON shape; elsewhere, Django's own pages.
handler400 = "api.fallback.bad_request"
handler500 = "api.fallback.server_error"
