"""HTTP endpoints on the worker's web server.

* ``GET /customers/{id}?channel=advisor`` - the customer 360 (profile,
  timeline, running processes, impulses, bundle predictions, open
  opportunities in rank order, the household with its other members);
* ``GET /customers/{id}/next-best-actions?channel=call_centre`` - what
  the channel shows now (the call-centre desktop on an inbound call): as many
  as the channel has slots (catalogue ``routing.top_n``) unless ``limit`` says
  otherwise, and with ``minutes=<time left in the call>`` only actions whose
  handling times together fit. Both take ``at=<RFC 3339>`` to evaluate at
  another moment than now, and rank with the acceptance statistics the worker
  learned (:mod:`impulse_stream.learned`);
* ``GET /healthz`` - liveness: fails when assigned partitions have lag and no
  batch was processed for ``stall_seconds`` (a consumer that silently stopped
  fetching, faust-streaming #175, #523), or while a partition is blocked
  (state lost, or a batch that fails as a whole), naming it and why;
* ``GET /readyz`` - readiness: partitions assigned, none blocked, Redis answers;
* ``GET /metrics`` - Prometheus;
* ``GET /openapi.json`` - the OpenAPI 3.1 document of all of these
  (:mod:`impulse_stream.api.openapi`).

Served from Redis: one round trip per request, and for a customer in a
household one more for the household's members and one per other member.
The bearer token, CORS and the request logs are in
:mod:`impulse_stream.api.security`.

The views get the narrow ports they use (:class:`ApiPorts`: state reads, the
households' members, the learned engine, the worker's health, the metrics and
three settings), built by
the composition root (``bootstrap.py``); they know neither the worker nor the
settings object.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sized
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol, cast

import faust
import msgspec
from faust.web import Request, Response, View
from faust.web.drivers.aiohttp import Web as AiohttpWeb
from prometheus_client import CONTENT_TYPE_LATEST

from impulse_stream.api import security
from impulse_stream.api.customer_view import MAX_HOUSEHOLD_MEMBERS, customer_360
from impulse_stream.api.openapi import openapi_document
from impulse_stream.core.codec import decode_state
from impulse_stream.core.events import CHANNELS, CustomerId
from impulse_stream.core.state import CustomerState
from impulse_stream.errors import StoreUnavailable
from impulse_stream.learned import LearnedEngine
from impulse_stream.store.base import StoredCustomer

_JSON = msgspec.json.Encoder()
_valid_id = msgspec.json.Decoder(CustomerId)


class StateReads(Protocol):
    """The store reads the views make: one customer, and a ping for readiness."""

    async def get(self, customer_id: str) -> StoredCustomer: ...

    async def ping(self) -> float: ...


class HouseholdReads(Protocol):
    """The members of a household (``store/groups.py``), for the 360 view."""

    async def customers(self, group_id: str) -> tuple[str, ...]: ...


class WorkerHealth(Protocol):
    """What liveness and readiness read of the worker."""

    started: float
    last_progress: float | None

    @property
    def assigned(self) -> Sized: ...

    def lag(self) -> Mapping[Any, int]: ...

    def problems(self) -> list[str]: ...


class RoundTrips(Protocol):
    def observe(self, amount: float) -> None: ...


class ApiMetrics(Protocol):
    """The metrics the views read (``/metrics``) and feed (Redis round trips)."""

    @property
    def redis_rtt(self) -> RoundTrips: ...

    def exposition(self) -> bytes: ...


@dataclass(frozen=True)
class ApiPorts:
    """Everything the views use, built by the composition root."""

    reads: StateReads
    households: HouseholdReads
    learned: LearnedEngine
    health: WorkerHealth
    metrics: ApiMetrics
    stall_seconds: float
    bearer_token: str
    allowed_origins: tuple[str, ...]


def register_views(app: faust.App, ports: ApiPorts) -> None:
    web = cast(AiohttpWeb, app.web)  # the aiohttp driver: faust's Web names no web_app
    security.install(web.web_app, ports.bearer_token, ports.allowed_origins)
    openapi = _JSON.encode(openapi_document())
    learned = ports.learned
    health = ports.health

    def json(view: View, value: Any, status: int = 200) -> Response:
        return view.bytes(_JSON.encode(value), content_type="application/json", status=status)

    def query(
        view: View, request: Request, default_channel: str
    ) -> tuple[Any, Any, Response | None]:
        """``channel`` and ``at`` (RFC 3339, default: now) of a request, or an error response."""
        channel = request.query.get("channel", default_channel)
        if channel not in CHANNELS:
            return (
                None,
                None,
                json(view, {"error": f"channel must be one of {', '.join(CHANNELS)}"}, 400),
            )
        raw_at = request.query.get("at")
        if raw_at is None:
            return channel, datetime.now(UTC), None
        try:
            at = datetime.fromisoformat(raw_at)
            if at.tzinfo is None:
                raise ValueError
        except ValueError:
            return None, None, json(view, {"error": "at must be an RFC 3339 time with offset"}, 400)
        return channel, at, None

    async def load_state(view: View, customer_id: str) -> tuple[Any, Response | None]:
        try:
            _valid_id.decode(_JSON.encode(customer_id))
        except msgspec.ValidationError:
            return None, json(view, {"error": "invalid customer id"}, 400)
        try:
            stored = await ports.reads.get(customer_id)
        except StoreUnavailable:
            return None, json(view, {"error": "state store unavailable"}, 503)
        if stored.state is None:
            return None, json(view, {"error": "unknown customer"}, 404)
        return decode_state(stored.state), None

    async def household_states(state: CustomerState) -> list[CustomerState]:
        """The states of the other members of the customer's household (Redis)."""
        if state.household is None:
            return []
        members = await ports.households.customers(state.household)
        others = [c for c in members if c != state.customer_id][:MAX_HOUSEHOLD_MEMBERS]
        out = []
        for cid in others:
            stored = await ports.reads.get(cid)
            if stored.state is not None:
                out.append(decode_state(stored.state))
        return out

    @app.page("/customers/{customer_id}")
    class Customer360(View):
        async def get(self, request: Request, customer_id: str) -> Response:
            channel, at, error = query(self, request, "advisor")
            if error is not None:
                return error
            state, error = await load_state(self, customer_id)
            if error is not None:
                return error
            try:
                engine = await learned.on(at)
                household = await household_states(state)
            except StoreUnavailable:
                return json(self, {"error": "state store unavailable"}, 503)
            return json(self, customer_360(engine, state, at, channel, household))

    @app.page("/customers/{customer_id}/next-best-actions")
    class NextBestActions(View):
        async def get(self, request: Request, customer_id: str) -> Response:
            channel, at, error = query(self, request, "call_centre")
            if error is not None:
                return error
            limit: int | None = None
            try:
                if "limit" in request.query:
                    limit = int(request.query["limit"])
                    if not 1 <= limit <= 20:
                        raise ValueError
            except ValueError:
                return json(self, {"error": "limit must be a whole number from 1 to 20"}, 400)
            minutes: float | None = None
            try:
                if "minutes" in request.query:
                    minutes = float(request.query["minutes"])
                    if not 0 <= minutes <= 600:
                        raise ValueError
            except ValueError:
                return json(self, {"error": "minutes must be a number from 0 to 600"}, 400)
            state, error = await load_state(self, customer_id)
            if error is not None:
                return error
            try:
                engine = await learned.on(at)
            except StoreUnavailable:
                return json(self, {"error": "state store unavailable"}, 503)
            actions = engine.next_best_actions(state, channel, at, limit, minutes)
            return json(self, {"customer_id": customer_id, "channel": channel, "actions": actions})

    @app.page("/healthz")
    class Health(View):
        async def get(self, request: Request) -> Response:
            lagging = sum(health.lag().values())
            idle = time.time() - (health.last_progress or health.started)
            stalled = lagging > 0 and idle > ports.stall_seconds
            problems = health.problems()
            status = "blocked" if problems else "stalled" if stalled else "ok"
            body = {"status": status, "lag": lagging, "idle_seconds": idle, "problems": problems}
            return json(self, body, 503 if stalled or problems else 200)

    @app.page("/readyz")
    class Ready(View):
        async def get(self, request: Request) -> Response:
            problems = health.problems()
            if not health.assigned:
                problems.append("no partitions assigned")
            try:
                ports.metrics.redis_rtt.observe(await ports.reads.ping())
            except StoreUnavailable as exc:
                problems.append(str(exc))
            status = 503 if problems else 200
            return json(self, {"ready": not problems, "problems": problems}, status)

    @app.page("/metrics")
    class Metrics(View):
        async def get(self, request: Request) -> Response:
            # aiohttp refuses a charset inside content_type; the header carries it.
            return self.bytes(
                ports.metrics.exposition(), headers={"Content-Type": CONTENT_TYPE_LATEST}
            )

    @app.page("/openapi.json")
    class OpenApi(View):
        async def get(self, request: Request) -> Response:
            return self.bytes(openapi, content_type="application/json")
