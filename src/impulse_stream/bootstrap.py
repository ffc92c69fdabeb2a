"""Composition root: settings -> catalogue, engine, store, metrics, app.

Every entry point (CLI command, test fixture, demo) builds the worker here
and nowhere else.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import faust

from impulse_stream import __version__
from impulse_stream.api.views import ApiPorts, register_views
from impulse_stream.catalogue_loader import load_catalogue
from impulse_stream.core.engine import DecisionEngine
from impulse_stream.learned import LearnedEngine
from impulse_stream.settings import Settings
from impulse_stream.store.groups import GroupMembers
from impulse_stream.store.redis import RedisStore
from impulse_stream.streaming.app import KafkaPublisher, Worker, create_app
from impulse_stream.streaming.metrics import Metrics
from impulse_stream.streaming.outbound import OutboundFeed
from impulse_stream.streaming.processor import BatchProcessor


@dataclass
class Container:
    settings: Settings
    engine: DecisionEngine
    store: RedisStore
    metrics: Metrics
    app: faust.App
    worker: Worker


def build_engine(settings: Settings) -> DecisionEngine:
    return DecisionEngine(load_catalogue(settings.catalogue or None))


def build(settings: Settings) -> Container:
    engine = build_engine(settings)
    store = RedisStore(
        settings.redis_url,
        prefix=settings.redis_prefix,
        security=settings.redis_security,
        timer_shards=settings.timer_shards,
    )
    metrics = Metrics()
    metrics.set_build_info(__version__, engine.rules_version)

    def processor_factory(
        app: faust.App,
        backlogged: Callable[[str, int], bool],
        highwater: Callable[[str, int], int | None],
        committed: Callable[[int], Awaitable[dict[str, int]]],
    ) -> BatchProcessor:
        return BatchProcessor(
            engine,
            store,
            KafkaPublisher(app),
            topic_prefix=settings.topic_prefix,
            metrics=metrics,
            max_message_bytes=settings.max_message_bytes,
            backlogged=backlogged,
            highwater=highwater,
            committed=committed,
            max_future_skew=settings.max_future_skew_seconds,
            allowed_lateness=settings.allowed_lateness_seconds,
            topic_idle_seconds=settings.topic_idle_seconds,
            caught_up_idle_seconds=settings.caught_up_idle_seconds,
        )

    app, worker = create_app(settings, processor_factory)
    register_employer_clusters(settings, engine, app, metrics)
    households = register_households(settings, app, metrics)
    container = Container(settings, engine, store, metrics, app, worker)
    register_views(
        app,
        ApiPorts(
            reads=store,
            households=households,
            learned=LearnedEngine(engine, store),
            health=worker,
            metrics=metrics,
            stall_seconds=settings.stall_seconds,
            bearer_token=settings.api_bearer_token(),
            allowed_origins=settings.allowed_origins,
        ),
    )
    return container


def register_employer_clusters(
    settings: Settings, engine: DecisionEngine, app: faust.App, metrics: Metrics
) -> None:
    """The worker's ``employers`` agent, while the catalogue enables ``salary_project_member``:
    it counts ``employers.members`` per employer in Redis and tells the members."""
    from impulse_stream.core.impulses.salary_project_member import KIND
    from impulse_stream.store.redis import redis_client
    from impulse_stream.streaming.employers import EmployerFeed, employer_clusters

    rule = engine.catalogue.detector(KIND)
    if rule is None:
        return
    clusters = employer_clusters(
        redis_client(settings.redis_url, settings.redis_security),
        rule.integer("cluster_size"),
        prefix=settings.redis_prefix,
    )
    EmployerFeed(clusters, KafkaPublisher(app), settings.topic_prefix, metrics).register(app)


def register_households(settings: Settings, app: faust.App, metrics: Metrics) -> GroupMembers:
    """The worker's ``households`` agent: it keeps the members of every household
    (``households.members``) in Redis; the 360 view reads them."""
    from impulse_stream.store.redis import redis_client
    from impulse_stream.streaming.households import HouseholdFeed, household_members

    households = household_members(
        redis_client(settings.redis_url, settings.redis_security), prefix=settings.redis_prefix
    )
    HouseholdFeed(households, KafkaPublisher(app), settings.topic_prefix, metrics).register(app)
    return households


def build_outbound(settings: Settings) -> tuple[faust.App, OutboundFeed]:
    """The outbound selector as its own Faust app (consumer group ``<app_id>-outbound``)
    on the ``opportunities`` topic, with the catalogue's daily capacities (per channel and
    per branch) and the household cap in Redis."""
    from impulse_stream.store.redis import redis_client
    from impulse_stream.streaming.outbound import (
        DailyCapacity,
        HouseholdContacts,
        OutboundSelector,
        register_outbound,
    )

    engine = build_engine(settings)
    app = faust.App(
        settings.app_id + "-outbound",
        broker=settings.kafka_url,
        broker_credentials=settings.kafka_security.faust_credentials(),
        store="memory://",
        autodiscover=False,
        web_enabled=False,
        topic_allow_declare=False,
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
    )
    client = redis_client(settings.redis_url, settings.redis_security)
    policy = engine.catalogue.policy
    capacity = DailyCapacity(
        client,
        policy.daily_capacity,
        prefix=settings.redis_prefix,
        branch_limits=policy.branch_capacity,
    )
    households = (
        HouseholdContacts(client, policy.household_cap, prefix=settings.redis_prefix)
        if policy.household_cap is not None
        else None
    )
    selector = OutboundSelector(capacity, households=households)
    feed = OutboundFeed(selector, KafkaPublisher(app), settings.topic_prefix)
    register_outbound(app, feed, settings.topic_prefix)
    return app, feed
