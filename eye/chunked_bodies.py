"""Chunked request bodies handed to Django with their length.

Django reads a body by its Content-Length and reads none without one: WSGI leaves the end
of a chunked body to the server, and Django does not ask. gunicorn decodes the chunks and
says that its input ends where the body does (`wsgi.input_terminated`), and the web worker
has the whole body in memory already (eye/web_worker.py). So such a body is read here, at
most one byte past EYE_MAX_BODY_BYTES, and given to Django with its length: a client that
streams its events gets the answers of one that counts them first, a 413 included.
"""

import io
from collections.abc import Callable, Iterable
from typing import Any

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def with_chunked_bodies(application: WsgiApp, *, limit: int) -> WsgiApp:
    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if _is_chunked(environ):
            body = environ["wsgi.input"].read(limit + 1)
            environ["wsgi.input"] = io.BytesIO(body)
            environ["CONTENT_LENGTH"] = str(len(body))
        return application(environ, start_response)

    return app


def _is_chunked(environ: dict[str, Any]) -> bool:
    return (
        not environ.get("CONTENT_LENGTH")
        and environ.get("wsgi.input_terminated", False)
        and "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
    )
