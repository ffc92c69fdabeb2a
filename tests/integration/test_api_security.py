"""The 360 API as a bank exposes it, on a real worker: bearer token, CORS for the desk,
the documented responses, Faust's internal views off, no customer id in the logs."""

from __future__ import annotations

import asyncio
import socket
import urllib.request
from datetime import UTC, datetime
from urllib.parse import quote

import pytest

from impulse_stream import worked_example
from tests.support.kafka import produce, read_all
from tests.support.openapi_check import DOCUMENT, check_response

pytestmark = pytest.mark.integration

TOKEN = "desk-token-7f3a9c"
DESK = "https://desk.bank.example"
CUSTOMER = "c-secret-4711"


def request(w, path: str, method: str = "GET", **headers: str) -> tuple[int, dict, bytes]:
    req = urllib.request.Request(w.url(path), method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


@pytest.fixture
def secured_worker(workers, tmp_path):
    token_file = tmp_path / "api-token"
    token_file.write_text(TOKEN + "\n")
    return workers.start(
        IMPULSE_STREAM_API_TOKEN_FILE=str(token_file),
        IMPULSE_STREAM_CORS_ORIGINS=f"{DESK},http://localhost:3000",
    )


def test_the_desk_reads_the_360_with_its_token_and_gets_documented_answers(workers, secured_worker):
    w = secured_worker
    now = datetime(2026, 11, 23, 11, 0, tzinfo=UTC)
    for topic, event in worked_example.events(CUSTOMER, now):
        asyncio.run(produce(workers.bootstrap, workers.prefix + topic, [event]))
    asyncio.run(
        read_all(
            workers.bootstrap,
            workers.prefix + "opportunities",
            until=lambda r: any(x.json()["action_id"] == "finish_credit_card_order" for x in r),
        )
    )
    at = quote(now.isoformat())
    auth = {"Authorization": f"Bearer {TOKEN}"}

    status, _, body = request(w, f"/customers/{CUSTOMER}?channel=call_centre&at={at}", **auth)
    view = check_response("/customers/{customer_id}", status, body)
    assert status == 200 and view["customer_id"] == CUSTOMER
    status, _, body = request(w, f"/customers/{CUSTOMER}/next-best-actions?at={at}", **auth)
    desk = check_response("/customers/{customer_id}/next-best-actions", status, body)
    assert status == 200 and desk["actions"][0]["action_id"] == "finish_credit_card_order"

    nba = "/customers/{customer_id}/next-best-actions"
    for path, template, expected in [
        ("/customers/nobody", "/customers/{customer_id}", 404),
        ("/customers/bad%20id", "/customers/{customer_id}", 400),
        ("/customers/nobody/next-best-actions?limit=0", nba, 400),
        ("/customers/nobody?channel=pigeon", "/customers/{customer_id}", 400),
    ]:
        status, _, body = request(w, path, **auth)
        assert status == expected
        check_response(template, status, body)

    for path in ("/healthz", "/readyz"):
        status, _, body = request(w, path)
        check_response(path, status, body)
        assert status == 200
    status, _, body = request(w, "/openapi.json")
    assert status == 200 and check_response("/openapi.json", status, body) == DOCUMENT


def test_without_the_right_token_only_probes_metrics_and_the_document_answer(secured_worker):
    w = secured_worker
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"}):
        status, got, body = request(w, f"/customers/{CUSTOMER}", **headers)
        assert status == 401 and got["WWW-Authenticate"] == "Bearer"
        check_response("/customers/{customer_id}", status, body)
        assert request(w, "/customers/x/next-best-actions", **headers)[0] == 401
        assert request(w, "/", **headers)[0] == 401
    assert request(w, "/healthz")[0] == 200
    assert request(w, "/readyz")[0] == 200
    status, _, body = request(w, "/metrics")
    assert status == 200 and b"impulse_stream_events_in_total" in body
    assert request(w, "/openapi.json")[0] == 200


def test_faust_router_and_table_views_are_not_on_the_public_port(secured_worker):
    auth = {"Authorization": f"Bearer {TOKEN}"}
    for path in ("/router/", "/table/", "/graph/", "/stats/"):
        assert request(secured_worker, path, **auth)[0] == 404, path


def test_a_desk_origin_passes_the_preflight_and_reads_with_cors_headers(secured_worker):
    w = secured_worker
    status, headers, _ = request(
        w,
        f"/customers/{CUSTOMER}",
        method="OPTIONS",
        Origin=DESK,
        **{
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "authorization",
        },
    )
    assert status == 204
    assert headers["Access-Control-Allow-Origin"] == DESK
    assert "Authorization" in headers["Access-Control-Allow-Headers"]
    assert headers["Access-Control-Allow-Methods"] == "GET"

    status, headers, _ = request(
        w, "/customers/nobody", Origin=DESK, Authorization=f"Bearer {TOKEN}"
    )
    assert status == 404 and headers["Access-Control-Allow-Origin"] == DESK
    status, headers, _ = request(w, "/customers/nobody", Origin=DESK)
    assert status == 401 and headers["Access-Control-Allow-Origin"] == DESK


def test_another_origin_gets_no_cors_headers(secured_worker):
    w = secured_worker
    evil = "https://evil.example"
    status, headers, _ = request(
        w,
        "/customers/nobody",
        method="OPTIONS",
        Origin=evil,
        **{"Access-Control-Request-Method": "GET"},
    )
    assert status == 403 and "Access-Control-Allow-Origin" not in headers
    status, headers, _ = request(
        w, "/customers/nobody", Origin=evil, Authorization=f"Bearer {TOKEN}"
    )
    assert status == 404 and "Access-Control-Allow-Origin" not in headers


def test_an_over_long_request_line_is_refused_and_its_path_never_logged(secured_worker):
    w = secured_worker
    line = f"GET /customers/{CUSTOMER}/next-best-actions?pad={'x' * 9000} HTTP/1.1\r\n"
    with socket.create_connection(("127.0.0.1", w.port), timeout=5) as s:
        s.sendall(line.encode() + b"Host: localhost\r\n\r\n")
        reply = s.recv(4096)
    assert reply.split(b" ")[1] == b"400"
    broken = f"GET /customers/{CUSTOMER}\x01 HTTP/1.1\r\nHost: localhost\r\n\r\n"
    with socket.create_connection(("127.0.0.1", w.port), timeout=5) as s:
        s.sendall(broken.encode())
        assert s.recv(4096).split(b" ")[1] == b"400"
    assert request(w, "/healthz")[0] == 200  # the worker serves on
    log = w.log_path.read_text(errors="replace")
    assert "Error handling request" in log  # aiohttp did log the bad requests ...
    assert CUSTOMER not in log  # ... without the path that names the customer
