"""What stands between the network and the 360 API: a bearer token, CORS, quiet logs.

* **Bearer token** (``IMPULSE_STREAM_API_TOKEN`` or ``IMPULSE_STREAM_API_TOKEN_FILE``,
  e.g. a mounted Kubernetes secret): every path except the probes, ``/metrics``
  and ``/openapi.json`` answers 401 without ``Authorization: Bearer <token>``.
  The comparison is constant-time (:func:`hmac.compare_digest`). No token set:
  the API is open, as before (a network policy protects it).
* **CORS** (``IMPULSE_STREAM_CORS_ORIGINS``): a desk application served from one
  of these exact origins may call the API from the browser. A preflight
  (``OPTIONS`` with ``Access-Control-Request-Method``) is answered here, before
  the token check, as browsers send it without credentials. Other origins get no
  CORS headers, so the browser refuses them.
* **Logs**: the path of a request holds the customer id. aiohttp logs a request
  it cannot parse (an over-long request line, a broken URL) with the parser's
  message, which quotes the request line. :class:`NoRequestDetails` drops that
  message and the traceback and keeps the exception type and the status, so no
  path reaches a log line. There is no access log (Faust runs aiohttp without one).
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.typedefs import Middleware

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

OPEN_PATHS = frozenset({"/healthz", "/readyz", "/metrics", "/openapi.json"})
PREFLIGHT_MAX_AGE = "600"


def _json_error(status: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response({"error": message}, status=status, headers=headers)


def bearer_token_middleware(
    token: str,
) -> Middleware:
    expected = token.encode()

    @web.middleware
    async def require_token(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path in OPEN_PATHS:
            return await handler(request)
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), expected):
            return _json_error(
                401, "a valid bearer token is required", {"WWW-Authenticate": "Bearer"}
            )
        return await handler(request)

    return require_token


def cors_middleware(
    origins: tuple[str, ...],
) -> Middleware:
    allowed = frozenset(origins)

    @web.middleware
    async def cors(request: web.Request, handler: Handler) -> web.StreamResponse:
        origin = request.headers.get("Origin", "")
        known = origin.lower() in allowed
        if request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers:
            if not known:
                return _json_error(403, "origin not allowed")
            return web.Response(
                status=204,
                headers={
                    "Access-Control-Allow-Origin": origin,
                    "Access-Control-Allow-Methods": "GET",
                    "Access-Control-Allow-Headers": "Authorization",
                    "Access-Control-Max-Age": PREFLIGHT_MAX_AGE,
                    "Vary": "Origin",
                },
            )
        try:
            response = await handler(request)
        except web.HTTPException as exc:  # 404, 405 from the router
            response = exc
        if known:
            response.headers["Access-Control-Allow-Origin"] = origin
            response.headers["Vary"] = "Origin"
        if isinstance(response, web.HTTPException):
            raise response
        return response

    return cors


class NoRequestDetails(logging.Filter):
    """Keeps aiohttp's server log lines but drops what may quote the request line."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if exc is not None:
            status = getattr(exc, "code", None) or getattr(exc, "status", None)
            message = record.getMessage()
            record.msg = "%s (%s%s)"
            record.args = (message, exc.__class__.__name__, f", status {status}" if status else "")
            record.exc_info = None
            record.exc_text = None
            record.stack_info = None
        return True


def quiet_http_logs() -> None:
    """Install :class:`NoRequestDetails` on the loggers aiohttp writes requests to."""
    for name in ("aiohttp.server", "aiohttp.web", "aiohttp.access"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, NoRequestDetails) for f in logger.filters):
            logger.addFilter(NoRequestDetails())


def install(app: web.Application, token: str, origins: tuple[str, ...]) -> None:
    """Add CORS (outermost, so that a 401 still carries its headers) and the token check."""
    quiet_http_logs()
    if origins:
        app.middlewares.append(cors_middleware(origins))
    if token:
        app.middlewares.append(bearer_token_middleware(token))
