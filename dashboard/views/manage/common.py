"""What every staff page shares: who may see it, and the frame of the Admin area."""

from collections.abc import Callable, Sequence
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_http_methods

from dashboard.views.common import View, render_page

READ = ("GET", "HEAD")
READ_WRITE = ("GET", "HEAD", "POST")
WRITE = ("POST",)


def staff_view(*, methods: Sequence[str] = READ) -> Callable[[View], View]:
    """Anonymous visitors go to the login page, as everywhere else; a viewer, who is
    logged in already, gets 403 (a login page would only send them back here). The
    method check comes after, so that a viewer learns nothing of what a URL accepts."""

    def decorate(view: View) -> View:
        allowed = require_http_methods(list(methods))(view)

        @wraps(view)
        def staff_only(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not request.user.is_staff:
                raise PermissionDenied
            return allowed(request, *args, **kwargs)

        return login_required(staff_only)

    return decorate


def render_manage(
    request: HttpRequest,
    template: str,
    context: dict[str, Any],
    *,
    section: str,
    status: int | None = None,
) -> HttpResponse:
    """A page of the Admin area: the dashboard's frame, the Admin tab current, and
    `section` marked in the area's own navigation."""
    return render_page(
        request, template, {**context, "section": section}, nav="manage", status=status
    )
