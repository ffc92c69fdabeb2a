"""Worker logs: one JSON object per line, a batch_id on every line of a batch."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from impulse_stream.logs import batch_context, configure_logging, json_formatter, offset_ranges


@pytest.fixture
def lines() -> Iterator[io.StringIO]:
    """The JSON log output of loggers under ``test.logs`` (and of ``faust``)."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(json_formatter())
    loggers = [logging.getLogger("test.logs"), logging.getLogger("faust.test")]
    for logger in loggers:
        logger.addHandler(handler)
        logger.setLevel(logging.DEBUG)
        logger.propagate = False
    yield out
    for logger in loggers:
        logger.removeHandler(handler)
        logger.propagate = True


def records(out: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_a_record_is_one_json_line_with_time_level_logger_and_message(lines) -> None:
    logging.getLogger("test.logs").warning("retrying in %.2fs", 0.5)
    (record,) = records(lines)
    assert record["message"] == "retrying in 0.50s"
    assert record["level"] == "warning" and record["logger"] == "test.logs"
    assert str(record["timestamp"]).endswith("Z")
    assert "batch_id" not in record


def test_a_library_record_is_json_too(lines) -> None:
    logging.getLogger("faust.test").info("worker ready")
    (record,) = records(lines)
    assert record["logger"] == "faust.test" and record["message"] == "worker ready"


def test_an_exception_stays_on_its_line(lines) -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        logging.getLogger("test.logs").exception("core failed")
    assert len(lines.getvalue().splitlines()) == 1
    (record,) = records(lines)
    assert "ValueError: boom" in str(record["exception"])


def test_every_line_of_a_batch_carries_its_batch_id_through_awaits(lines) -> None:
    log = logging.getLogger("test.logs")

    async def deep_inside() -> None:
        await asyncio.sleep(0)
        log.warning("inside")

    async def one_batch() -> str:
        with batch_context() as batch_id:
            log.debug("start")
            await deep_inside()
        return batch_id

    async def two_batches_at_once() -> list[str]:
        return list(await asyncio.gather(one_batch(), one_batch()))

    ids = asyncio.run(two_batches_at_once())
    log.info("after")
    got = records(lines)
    assert len(set(ids)) == 2
    for batch_id in ids:
        assert [r["message"] for r in got if r.get("batch_id") == batch_id] == ["start", "inside"]
    assert "batch_id" not in got[-1]


def test_allowed_extra_fields_are_kept_and_others_dropped(lines) -> None:
    logging.getLogger("test.logs").info(
        "batch", extra={"events": 2, "offsets": {"orders.flow/1": "4-5"}, "iban": "DE89"}
    )
    (record,) = records(lines)
    assert record["events"] == 2 and record["offsets"] == {"orders.flow/1": "4-5"}
    assert "iban" not in record and "DE89" not in lines.getvalue()


@dataclass(frozen=True)
class Message:
    topic: str
    partition: int
    offset: int


def test_offset_ranges_say_where_a_batch_came_from() -> None:
    batch = [Message("orders.flow", 1, 7), Message("orders.flow", 1, 4), Message("x", 0, 0)]
    assert offset_ranges(batch) == {"orders.flow/1": "4-7", "x/0": "0-0"}


def test_configure_logging_puts_a_json_handler_on_the_root_logger(capsys) -> None:
    root = logging.getLogger()
    saved = root.handlers[:], root.level, logging.getLogger("aiokafka").level
    try:
        configure_logging("debug")
        logging.getLogger("impulse_stream.test").debug("hello")
        assert root.level == logging.DEBUG
        assert logging.getLogger("aiokafka").level == logging.WARNING
    finally:
        root.handlers[:], root.level = saved[0], saved[1]
        logging.getLogger("aiokafka").setLevel(saved[2])
    record = json.loads(capsys.readouterr().err.splitlines()[-1])
    assert record["message"] == "hello" and record["level"] == "debug"


def test_an_idle_partition_timer_names_its_partition(lines) -> None:
    with batch_context(partition=3) as batch_id:
        logging.getLogger("test.logs").info("advancing")
    (record,) = records(lines)
    assert record["partition"] == 3 and record["batch_id"] == batch_id
