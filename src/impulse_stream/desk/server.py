"""The desk process: the agent desktop, the teaser view and the report over HTTP.

``impulse-stream desk`` runs beside the workers. It reads customer state from
the worker's Redis through :class:`~impulse_stream.store.base.CustomerStore`,
ranks with the worker's learned engine (:mod:`impulse_stream.learned`), and
talks Kafka like any channel frontend: it writes ``OpportunityResponse``
records to ``opportunities.responses`` (key = customer id), follows the
``opportunities`` topic for the live feed, and aggregates the report's topics
into Redis counters (:mod:`impulse_stream.desk.report`).

Routes::

    GET  /                                  search
    GET  /customers?id=...                  -> /customers/{id}
    GET  /customers/{id}                    desktop (channel, minutes, agent, at)
    GET  /customers/{id}/panel              the part the live feed refreshes
    GET  /customers/{id}/feed               server-sent events: the customer's opportunities
    POST /customers/{id}/responses          accepted / declined / not_now / no_time /
                                            appointment (accepted with appointment_at)
    GET  /customers/{id}/teaser             what online banking or the app shows
    GET  /report, /report.json              the omnichannel report (day=YYYY-MM-DD)
    GET  /healthz                           the desk's own liveness
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from typing import Any
from urllib.parse import quote, urlencode

import msgspec
import orjson
from aiohttp import web

from impulse_stream.api.customer_view import age_on
from impulse_stream.contract import topics
from impulse_stream.core.cockpit import customer_view
from impulse_stream.core.codec import decode_state
from impulse_stream.core.events import CustomerId, OpportunityResponse
from impulse_stream.core.state import CONSENT_BITS, CustomerState
from impulse_stream.desk import pages
from impulse_stream.desk.feed import OpportunityFeed
from impulse_stream.desk.report import build_report
from impulse_stream.errors import StateDecodeError, StoreUnavailable
from impulse_stream.learned import LearnedEngine
from impulse_stream.pseudonym import pseudonym
from impulse_stream.store.base import CustomerStore
from impulse_stream.store.report import ReportStore

log = logging.getLogger(__name__)

_valid_id = msgspec.json.Decoder(CustomerId)
_encode = msgspec.json.Encoder()
STATIC = resources.files("impulse_stream.desk").joinpath("static")
_CONTENT_TYPES = {".css": "text/css", ".js": "text/javascript"}
HEARTBEAT_SECONDS = 15.0


class BadRequest(ValueError):
    pass


@dataclass
class Desk:
    """What the handlers need: the store, the learned engine, Kafka and the report."""

    store: CustomerStore
    learned: LearnedEngine
    report: ReportStore
    feed: OpportunityFeed
    producer: Any  # aiokafka producer
    topic_prefix: str = ""

    async def send_response(self, response: OpportunityResponse) -> None:
        await self.producer.send_and_wait(
            self.topic_prefix + topics.RESPONSES,
            _encode.encode(response),
            key=response.customer_id.encode(),
        )


def _customer_id(raw: str) -> str:
    try:
        return _valid_id.decode(orjson.dumps(raw))
    except msgspec.ValidationError:
        raise BadRequest("invalid customer id") from None


def _moment(request: web.Request) -> datetime:
    raw = request.query.get("at")
    if not raw:
        return datetime.now(UTC)
    try:
        at = datetime.fromisoformat(raw)
    except ValueError:
        raise BadRequest("at must be an RFC 3339 time with offset") from None
    if at.tzinfo is None:
        raise BadRequest("at must be an RFC 3339 time with offset")
    return at


def _minutes(raw: str | None) -> float | None:
    if raw is None or raw.strip() == "":
        return None
    try:
        value = float(raw)
    except ValueError:
        raise BadRequest("minutes must be a number from 0 to 600") from None
    if not 0 <= value <= 600:
        raise BadRequest("minutes must be a number from 0 to 600")
    return value


def _channel(raw: str, allowed: tuple[str, ...]) -> Any:
    if raw not in allowed:
        raise BadRequest(f"channel must be one of {', '.join(allowed)}")
    return raw


def _html(text: str, status: int = 200) -> web.Response:
    return web.Response(text=text, content_type="text/html", charset="utf-8", status=status)


def _profile(state: CustomerState, now: datetime) -> dict[str, Any]:
    p = state.profile
    return {
        "age": age_on(p.birth_date, now.date()),
        "branch_id": p.branch_id,
        "consents": {name: p.has_consent(name) for name in CONSENT_BITS},
    }


def build_app(desk: Desk) -> web.Application:
    routes = web.RouteTableDef()

    async def load(customer: str) -> CustomerState | None:
        stored = await desk.store.get(customer)
        if stored.state is None:
            return None
        try:
            return decode_state(stored.state)
        except StateDecodeError:
            return None

    @web.middleware
    async def errors(request: web.Request, handler: Any) -> web.StreamResponse:
        try:
            return await handler(request)  # type: ignore[no-any-return]
        except BadRequest as exc:
            return _html(pages.page("Bad request", f"<main><p>{exc}</p></main>"), 400)
        except StoreUnavailable:
            log.warning("state store unavailable")
            return _html(
                pages.page("Unavailable", "<main><p>State store unavailable.</p></main>"), 503
            )

    @routes.get("/")
    async def index(request: web.Request) -> web.Response:
        return _html(pages.search_page())

    @routes.get("/customers")
    async def search(request: web.Request) -> web.Response:
        customer = _customer_id(request.query.get("id", "").strip())
        params = {k: v for k, v in request.query.items() if k != "id" and v}
        query = f"?{urlencode(params)}" if params else ""
        raise web.HTTPSeeOther(f"/customers/{quote(customer)}{query}")

    async def desktop_parts(request: web.Request) -> tuple[Any, ...] | None:
        customer = _customer_id(request.match_info["customer_id"])
        channel = _channel(request.query.get("channel", "call_centre"), pages.DESK_CHANNELS)
        minutes = _minutes(request.query.get("minutes"))
        agent = request.query.get("agent", "").strip()[:64] or "kdc-desk"
        now = _moment(request)
        state = await load(customer)
        if state is None:
            return None
        engine = await desk.learned.on(now)
        view = customer_view(engine, state, channel, now, minutes)
        back = f"/customers/{quote(customer)}?" + pages.query_string(
            channel=channel,
            minutes=request.query.get("minutes"),
            agent=agent,
            at=request.query.get("at"),
        )
        return view, _profile(state, now), now, channel, agent, minutes, back

    @routes.get("/customers/{customer_id}")
    async def desktop(request: web.Request) -> web.Response:
        parts = await desktop_parts(request)
        if parts is None:
            return _html(pages.search_page("No customer with this id."), 404)
        view, profile, now, channel, agent, minutes, back = parts
        sent = request.query.get("sent", "")
        return _html(
            pages.desktop_page(
                view,
                view.opportunities,
                profile,
                now,
                channel,
                agent,
                minutes,
                back,
                sent=f"Recorded: {pages.label(sent)}" if sent else "",
            )
        )

    @routes.get("/customers/{customer_id}/panel")
    async def panel(request: web.Request) -> web.Response:
        parts = await desktop_parts(request)
        if parts is None:
            return _html("<p>No customer with this id.</p>", 404)
        view, profile, now, channel, agent, minutes, back = parts
        return _html(
            pages.customer_panel(
                view, view.opportunities, profile, now, channel, agent, back, minutes
            )
        )

    @routes.post("/customers/{customer_id}/responses")
    async def respond(request: web.Request) -> web.Response:
        customer = _customer_id(request.match_info["customer_id"])
        form = await request.post()
        kind = str(form.get("response", ""))
        appointment_at = None
        if kind == "appointment":
            raw = str(form.get("appointment_at", ""))
            try:
                appointment_at = datetime.fromisoformat(raw).replace(tzinfo=UTC)
            except ValueError:
                raise BadRequest("the appointment needs a date and time") from None
            kind = "accepted"
        channel = _channel(str(form.get("channel", "call_centre")), pages.DESK_CHANNELS)
        try:
            response = msgspec.convert(
                {
                    "event_id": f"desk-{uuid.uuid4().hex}",
                    "opportunity_id": str(form.get("opportunity_id", "")),
                    "customer_id": customer,
                    "channel": channel,
                    "response": kind,
                    "occurred_at": datetime.now(UTC),
                    "agent_id": str(form.get("agent", "")) or None,
                    "appointment_at": appointment_at,
                },
                OpportunityResponse,
            )
        except msgspec.ValidationError as exc:
            raise BadRequest(f"not a valid response: {exc}") from None
        await desk.send_response(response)
        log.info("response %s sent for customer %s", response.response, pseudonym(customer))
        back = str(form.get("back", "")) or f"/customers/{quote(customer)}?"
        if not back.startswith(f"/customers/{quote(customer)}?"):
            back = f"/customers/{quote(customer)}?"
        sent = "appointment booked" if appointment_at is not None else response.response
        raise web.HTTPSeeOther(back + "&" + urlencode({"sent": sent}))

    @routes.get("/customers/{customer_id}/feed")
    async def feed(request: web.Request) -> web.StreamResponse:
        customer = _customer_id(request.match_info["customer_id"])
        stream = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
        )
        await stream.prepare(request)
        await stream.write(b": connected\n\n")
        with desk.feed.listen(customer) as queue:
            while True:
                try:
                    value = await asyncio.wait_for(queue.get(), HEARTBEAT_SECONDS)
                except TimeoutError:
                    await stream.write(b": heartbeat\n\n")
                    continue
                await stream.write(b"event: opportunity\ndata: " + value + b"\n\n")

    @routes.get("/customers/{customer_id}/teaser")
    async def teaser(request: web.Request) -> web.Response:
        customer = _customer_id(request.match_info["customer_id"])
        channel = _channel(
            request.query.get("channel", "online_banking"), ("online_banking", "app")
        )
        now = _moment(request)
        state = await load(customer)
        if state is None:
            return _html(pages.search_page("No customer with this id."), 404)
        engine = await desk.learned.on(now)
        teasers = engine.next_best_actions(state, channel, now)
        slots = engine.routing.top_n(channel)
        return _html(pages.teaser_page(customer, channel, slots, teasers, now))

    async def report_data(request: web.Request) -> tuple[dict[str, Any], str | None]:
        day = request.query.get("day") or None
        all_days = await desk.report.days()
        if day is not None and day not in all_days:
            try:
                datetime.strptime(day, "%Y-%m-%d")
            except ValueError:
                raise BadRequest("day must be YYYY-MM-DD") from None
        chosen = [day] if day is not None else all_days
        report = build_report(await desk.report.counts(chosen))
        report["all_days"] = all_days
        return report, day

    @routes.get("/report")
    async def report_page(request: web.Request) -> web.Response:
        report, day = await report_data(request)
        return _html(pages.report_page(report, day))

    @routes.get("/report.json")
    async def report_json(request: web.Request) -> web.Response:
        report, _ = await report_data(request)
        return web.Response(body=orjson.dumps(report), content_type="application/json")

    @routes.get("/static/{name}")
    async def static(request: web.Request) -> web.Response:
        name = request.match_info["name"]
        suffix = name[name.rfind(".") :] if "." in name else ""
        if "/" in name or suffix not in _CONTENT_TYPES:
            raise web.HTTPNotFound()
        item = STATIC.joinpath(name)
        if not item.is_file():
            raise web.HTTPNotFound()
        return web.Response(body=item.read_bytes(), content_type=_CONTENT_TYPES[suffix])

    @routes.get("/healthz")
    async def health(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    app = web.Application(middlewares=[errors])
    app.add_routes(routes)
    return app


async def serve(settings: Any, host: str, port: int, ready: asyncio.Event | None = None) -> None:
    """Run the desk until cancelled: clients, consumers, web server."""
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

    from impulse_stream.bootstrap import build_engine
    from impulse_stream.desk.report import REPORT_TOPICS, ReportAggregator
    from impulse_stream.store.redis import RedisStore

    kafka = {
        "bootstrap_servers": settings.kafka_bootstrap_servers,
        **settings.kafka_security.aiokafka_kwargs(),
    }
    store = RedisStore(
        settings.redis_url,
        prefix=settings.redis_prefix,
        security=settings.redis_security,
        timer_shards=settings.timer_shards,
    )
    report = ReportStore(store.redis, settings.redis_prefix)
    producer = AIOKafkaProducer(acks="all", **kafka)
    live = AIOKafkaConsumer(
        settings.topic_prefix + topics.OPPORTUNITIES,
        group_id=None,
        auto_offset_reset="latest",
        enable_auto_commit=False,
        **kafka,
    )
    counting = AIOKafkaConsumer(
        *(settings.topic_prefix + t for t in REPORT_TOPICS),
        group_id=f"{settings.app_id}-desk-report",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        **kafka,
    )
    desk = Desk(
        store=store,
        learned=LearnedEngine(build_engine(settings), store),
        report=report,
        feed=OpportunityFeed(live),
        producer=producer,
        topic_prefix=settings.topic_prefix,
    )
    aggregator = ReportAggregator(counting, store, report, settings.topic_prefix)
    runner = web.AppRunner(build_app(desk), access_log=None)  # paths carry customer ids
    tasks: list[asyncio.Task[None]] = []
    try:
        await producer.start()
        await live.start()
        await counting.start()
        tasks = [
            asyncio.create_task(desk.feed.run(), name="desk-feed"),
            asyncio.create_task(aggregator.run(), name="desk-report"),
        ]
        await runner.setup()
        await web.TCPSite(runner, host, port).start()
        log.info("desk on http://%s:%d", host, port)
        if ready is not None:
            ready.set()
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
        for task in done:
            task.result()  # a consumer that died takes the desk down, loudly
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await runner.cleanup()
        for client in (counting, live, producer):
            with contextlib.suppress(Exception):
                await client.stop()
        await store.close()


def run_desk(settings: Any, host: str, port: int) -> None:
    """``impulse-stream desk``: wait for Kafka and Redis, then serve until SIGTERM or Ctrl-C."""
    import dataclasses
    import signal

    from impulse_stream.startup import wait_for_dependencies

    async def main() -> None:
        # the start-up wait answers on the desk's own port, not the worker's
        await wait_for_dependencies(dataclasses.replace(settings, web_host=host, web_port=port))
        task = asyncio.create_task(serve(settings, host, port))
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, task.cancel)
        with contextlib.suppress(asyncio.CancelledError):
            await task

    asyncio.run(main())
