"""The query string of a GET: every parameter known, and each given once.

A filter nobody reads, or the one of two values of a parameter that is not read, would
answer a question other than the one asked, and look like the answer (CONTRACT.md: never a
silently ignored filter).
"""

from collections.abc import Iterable

from django.http import HttpRequest

from api.errors import api_error


def query_parameters_check(request: HttpRequest, *, known: Iterable[str]) -> None:
    known = set(known)
    for parameter, values in request.GET.lists():
        if parameter not in known:
            raise api_error(
                422, f"is not a known parameter; known: {', '.join(sorted(known))}", field=parameter
            )
        if len(values) > 1:
            raise api_error(422, f"is given {len(values)} times; give it once", field=parameter)
