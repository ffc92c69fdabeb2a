"""The worked example in a real browser: the agent desktop, the teaser view and the report.

Headless Chromium drives ``impulse-stream desk`` beside a real worker on the test
stack's Kafka and Redis. With ``IMPULSE_STREAM_SCREENSHOTS=docs/img`` the run saves
the screenshots the README shows.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import orjson
import pytest
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

from impulse_stream import worked_example
from impulse_stream.contract import topics
from tests.support.browser import BrowserUnavailable, screenshot, start_chromium
from tests.support.desk_process import DeskProcess
from tests.support.kafka import produce, read_all

pytestmark = pytest.mark.integration

CARD = "finish_credit_card_order"


@pytest.fixture
def browser() -> Iterator[WebDriver]:
    try:
        driver = start_chromium()
    except BrowserUnavailable as exc:
        pytest.fail(str(exc), pytrace=False)
    yield driver
    driver.quit()


@pytest.fixture
def desk(workers, redis_url, redis_prefix, tmp_path) -> Iterator[DeskProcess]:
    d = DeskProcess(workers.bootstrap, redis_url, workers.prefix, redis_prefix, tmp_path)
    yield d
    d.stop()


# The live feed replaces the panel at any moment: read the page in one script call.
def _actions(browser: WebDriver) -> list[str]:
    return browser.execute_script(
        "return [...document.querySelectorAll('#actions article.action')]"
        ".map(e => e.dataset.actionId)"
    )


def _first_action(browser: WebDriver) -> dict:
    return browser.execute_script(
        """const a = document.querySelector('#actions article.action');
        const text = (c) => a.querySelector(c).innerText.trim();
        return {action: a.dataset.actionId, rank: a.dataset.rank,
                opportunity: a.dataset.opportunityId, instruction: text('.instruction'),
                argument: text('.argument'), objections: text('.objections'),
                minutes: text('.minutes'), info: a.querySelector('a.info').href};"""
    )


def _text(browser: WebDriver, element_id: str) -> str:
    return browser.execute_script(f"return document.getElementById('{element_id}').innerText")


def _click(browser: WebDriver, selector: str, tries: int = 10) -> None:
    for _ in range(tries):
        try:
            browser.find_element(By.CSS_SELECTOR, selector).click()
            return
        except StaleElementReferenceException:
            time.sleep(0.2)
    raise AssertionError(f"{selector} kept being replaced")


def _until(browser: WebDriver, what: str, check, timeout: float = 60.0):  # type: ignore[no-untyped-def]
    try:
        return WebDriverWait(browser, timeout, poll_frequency=0.3).until(lambda b: check(b))
    except Exception as exc:
        raise AssertionError(f"{what} within {timeout:.0f}s; page: {browser.current_url}") from exc


def _report(desk: DeskProcess) -> dict:
    status, body = desk.get("/report.json")
    assert status == 200
    return orjson.loads(body)


def test_the_agent_takes_the_worked_example_call_in_the_browser_end_to_end(
    workers, desk, browser, redis_prefix
):
    worker = workers.start()
    desk.start()
    now = datetime.now(UTC).replace(microsecond=0)
    customer = "c-desk-1"
    *history, call = worked_example.events(customer, now)

    def send(events):  # type: ignore[no-untyped-def]
        for topic, event in events:
            asyncio.run(produce(workers.bootstrap, workers.prefix + topic, [event]))

    send(history)
    deadline = time.monotonic() + 60
    while worker.get(f"/customers/{customer}")[0] != 200:
        assert time.monotonic() < deadline, "the worker did not store the customer"
        time.sleep(0.3)

    # The agent opens the caller before the card order is declared abandoned ...
    browser.get(desk.url(f"/customers/{customer}?channel=call_centre&agent=kdc-12"))
    assert "Customer c-desk-1" in browser.find_element(By.CSS_SELECTOR, ".who h2").text
    assert CARD not in _actions(browser)
    timeline = _text(browser, "timeline")
    assert "advisor appointment" in timeline and "online banking message" in timeline
    _until(
        browser,
        "the live feed connected",
        lambda b: "live" in b.find_element(By.TAG_NAME, "body").get_attribute("class"),
    )

    # ... and the inbound call makes the worker publish the offer: it appears by itself.
    send([call])
    _until(browser, "the card order on the desktop without a reload", lambda b: CARD in _actions(b))
    first = _first_action(browser)
    assert (first["action"], first["rank"]) == (CARD, "1")
    assert first["instruction"] and first["argument"] and first["objections"]
    assert first["info"].startswith("http") and first["minutes"].endswith("min")
    processes = _text(browser, "processes")
    assert "credit-card order, step 2 of 4, abandoned, no activity for" in processes
    assert "order abandoned" in _text(browser, "impulses")
    assert CARD in _text(browser, "feed").replace(" ", "_")
    screenshot(browser, "desk")

    # Online banking shows the card in a teaser slot today.
    browser.get(desk.url(f"/customers/{customer}/teaser"))
    slots = browser.find_elements(By.CSS_SELECTOR, ".slots .slot")
    assert len(slots) == 2  # catalogue: online banking has two teaser slots
    assert CARD in [s.get_attribute("data-action-id") for s in slots]
    screenshot(browser, "teaser")

    # The agent clicks "Accepted" on the first action.
    browser.get(desk.url(f"/customers/{customer}?channel=call_centre&agent=kdc-12"))
    _until(browser, "the card order on the desktop", lambda b: CARD in _actions(b))
    opportunity_id = first_id = _first_action(browser)["opportunity"]
    _click(browser, "#actions article.action button[value=accepted]")
    _until(browser, "the desktop confirms", lambda b: b.find_elements(By.ID, "sent"))
    assert "accepted" in browser.find_element(By.ID, "sent").text

    responses = asyncio.run(
        read_all(
            workers.bootstrap,
            workers.prefix + topics.RESPONSES,
            until=lambda rs: any(r.json()["opportunity_id"] == first_id for r in rs),
        )
    )
    (answer,) = [r for r in responses if r.json()["opportunity_id"] == opportunity_id]
    assert answer.key == customer.encode()
    body = answer.json()
    assert (body["response"], body["channel"], body["agent_id"]) == (
        "accepted",
        "call_centre",
        "kdc-12",
    )
    _until(browser, "the accepted offer leaves the desktop", lambda b: CARD not in _actions(b))

    # The next day online banking does not offer the card again.
    tomorrow = quote((now + timedelta(days=1)).isoformat())
    browser.get(desk.url(f"/customers/{customer}/teaser?at={tomorrow}"))
    offered = [
        s.get_attribute("data-action-id")
        for s in browser.find_elements(By.CSS_SELECTOR, ".slots .slot.offer")
    ]
    assert CARD not in offered

    # The card order completes on the phone: the sale is credited.
    send(
        [
            (
                topics.ORDERS,
                {
                    "event_id": f"ord-{customer}-completed-4",
                    "customer_id": customer,
                    "order_id": f"ord-{customer}",
                    "product": "credit_card",
                    "channel": "call_centre",
                    "occurred_at": (now + timedelta(minutes=6)).isoformat(),
                    "status": "completed",
                    "step": 4,
                    "total_steps": 4,
                    "agent_id": "kdc-12",
                },
            )
        ]
    )
    deadline = time.monotonic() + 60
    while not _report(desk)["sales"]:
        assert time.monotonic() < deadline, "no credited sale in the report"
        time.sleep(0.5)
    report = _report(desk)
    assert report["sales_by_closing_channel"] == {"call_centre": 1}
    assert report["sales_by_advisor"] == {"adv-0042": 1}
    accepted = [r for r in report["opportunities"] if r["accepted"] and r["action_id"] == CARD]
    assert [(r["channel"], r["segment"], r["accepted"]) for r in accepted] == [
        ("call_centre", "retail", 1)
    ]
    (card_orders,) = [p for p in report["online_processes"] if p["product"] == "credit_card"]
    assert (card_orders["started"], card_orders["completed"]) == (1, 1)

    browser.get(desk.url("/report"))
    sales = browser.find_element(By.CSS_SELECTOR, "table.sales").text
    assert "call centre" in sales and "adv-0042" in sales
    per_channel = browser.find_element(By.CSS_SELECTOR, "table.per-channel").text
    assert "call centre" in per_channel
    assert len(browser.find_elements(By.CSS_SELECTOR, ".charts svg")) == 4
    screenshot(browser, "report")
