"""The worker and the CLI tools over Kafka SASL_SSL (SCRAM-SHA-512) and Redis TLS with an ACL user.

One broker and one redis-server of this module's own, with certificates the
test makes: the broker has a PLAINTEXT listener (the test's own setup and
reading) and a SASL_SSL listener (the worker and the tools); Redis has a plain
port and a TLS port, and an ACL user for the worker.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest
import redis as redis_sync

from impulse_stream.contract.topics import topic_specs
from impulse_stream.infra.admin import create_topics
from impulse_stream.infra.kafka_broker import KafkaBroker, SecureListener
from impulse_stream.infra.redis_server import RedisServer, RedisTls
from impulse_stream.infra.settings import StackSettings
from tests.support.certificates import Certificates, make_certificates
from tests.support.kafka import read_all
from tests.support.scenarios import T0, abandoned_card_order, inbound_call, profile
from tests.support.worker_process import REPO, WorkerProcess, free_port

pytestmark = pytest.mark.integration

KAFKA_USER, KAFKA_PASSWORD = "impulse-worker", "kafka-s3cret"
REDIS_USER, REDIS_PASSWORD = "impulse-worker", "redis-s3cret"
CARD = "finish_credit_card_order"


class SecureServers:
    def __init__(self, root: Path) -> None:
        self.certs: Certificates = make_certificates(root / "certs")
        self.settings = StackSettings.from_env(
            {},
            name="secure",
            data_root=root / "var",
            kafka_port=free_port(),
            kafka_controller_port=free_port(),
            redis_port=free_port(),
            kafka_heap="512m",
        )
        self.sasl_ssl_port, self.tls_port = free_port(), free_port()
        self.kafka = KafkaBroker(
            self.settings,
            SecureListener(
                self.sasl_ssl_port,
                "SASL_SSL",
                keystore=self.certs.server_keystore,
                scram_users={KAFKA_USER: KAFKA_PASSWORD},
            ),
        )
        self.redis = RedisServer(
            self.settings,
            RedisTls(self.tls_port, self.certs.server_cert, self.certs.server_key, self.certs.ca),
            users={REDIS_USER: REDIS_PASSWORD},
        )

    @property
    def plaintext_bootstrap(self) -> str:
        return self.kafka.bootstrap_servers

    def env(self, **changes: str) -> dict[str, str]:
        """The worker's and tools' settings for the secure listener and the TLS port."""
        env = {
            "KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{self.sasl_ssl_port}",
            "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
            "KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
            "KAFKA_SASL_USERNAME": KAFKA_USER,
            "KAFKA_SASL_PASSWORD": KAFKA_PASSWORD,
            "KAFKA_SSL_CA_FILE": str(self.certs.ca),
            "REDIS_URL": f"rediss://127.0.0.1:{self.tls_port}/0",
            "REDIS_USERNAME": REDIS_USER,
            "REDIS_PASSWORD": REDIS_PASSWORD,
            "REDIS_SSL_CA_FILE": str(self.certs.ca),
        }
        env.update(changes)
        return env


@pytest.fixture(scope="module")
def secure(tmp_path_factory):
    servers = SecureServers(tmp_path_factory.mktemp("secure"))
    try:
        servers.redis.start()
        servers.kafka.start()
        yield servers
    finally:
        servers.kafka.stop(hard=True)
        servers.redis.stop(hard=True)


def secure_worker(secure: SecureServers, topic_prefix: str, tmp_path: Path, name: str, **env):
    create_topics(secure.plaintext_bootstrap, topic_specs(6, prefix=topic_prefix))
    settings = secure.env(**env)
    worker = WorkerProcess(
        settings.pop("KAFKA_BOOTSTRAP_SERVERS"),
        settings.pop("REDIS_URL"),
        topic_prefix,
        topic_prefix.replace(".", ":"),
        tmp_path,
        name,
        **settings,
    )
    return worker.start()


def run_cli(secure: SecureServers, topic_prefix: str, *args: str, **env: str):
    return subprocess.run(
        [sys.executable, "-m", "impulse_stream.cli", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={
            **os.environ,
            **secure.env(**env),
            "IMPULSE_STREAM_TOPIC_PREFIX": topic_prefix,
            "IMPULSE_STREAM_REDIS_PREFIX": topic_prefix.replace(".", ":"),
            "IMPULSE_STREAM_APP_ID": f"{topic_prefix}impulse-stream",
        },
        timeout=120,
    )


def jsonl(path: Path, events: list[dict]) -> Path:
    path.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in events))
    return path


def customer_key_exists(secure: SecureServers, topic_prefix: str, cid: str) -> bool:
    plain = redis_sync.Redis(
        port=secure.settings.redis_port, username=REDIS_USER, password=REDIS_PASSWORD
    )
    try:
        return bool(plain.exists(f"{topic_prefix.replace('.', ':')}c:{{{cid}}}"))
    finally:
        plain.close()


def test_over_sasl_ssl_and_redis_tls_an_abandoned_order_becomes_an_offer_and_forget_erases_it(
    secure, topic_prefix, tmp_path
):
    worker = secure_worker(secure, topic_prefix, tmp_path, "secure")
    try:
        worker.wait_ready(timeout=90)
        cid = "c-8001"
        events = [*abandoned_card_order(cid), inbound_call(cid, T0.replace(hour=10))]
        for topic, batch in (
            ("customers.profile", [profile(cid)]),
            ("orders.flow", events[:-1]),
            ("channel.contacts", events[-1:]),
        ):
            sent = run_cli(
                secure, topic_prefix, "produce", topic, str(jsonl(tmp_path / "e", batch))
            )
            assert sent.returncode == 0, sent.stderr
            assert sent.stdout.strip() == f"sent {len(batch)} events to {topic}"

        records = asyncio.run(
            read_all(
                secure.plaintext_bootstrap,
                topic_prefix + "opportunities",
                until=lambda rs: any(r.json()["action_id"] == CARD for r in rs),
                timeout=90,
            )
        )
        offers = [r.json() for r in records if r.json()["action_id"] == CARD]
        assert [(o["customer_id"], o["status"]) for o in offers] == [(cid, "open")]
        assert customer_key_exists(secure, topic_prefix, cid)

        erased = run_cli(secure, topic_prefix, "forget", cid, "--yes", "--wait", "60")
        assert erased.returncode == 0, erased.stderr
        assert "tombstone written to " + topic_prefix + "customers.profile" in erased.stdout
        assert "erased: the customer's state is gone from Redis" in erased.stdout
        assert not customer_key_exists(secure, topic_prefix, cid)
        assert cid not in worker.log_path.read_text()  # pseudonyms only
    finally:
        worker.stop()


def test_forget_without_a_running_worker_says_the_erasure_is_pending(
    secure, topic_prefix, tmp_path
):
    worker = secure_worker(secure, topic_prefix, tmp_path, "pending")
    cid = "c-8002"
    try:
        worker.wait_ready(timeout=90)
        sent = run_cli(
            secure,
            topic_prefix,
            "produce",
            "orders.flow",
            str(jsonl(tmp_path / "e", abandoned_card_order(cid)[:1])),
        )
        assert sent.returncode == 0, sent.stderr
        deadline = time.monotonic() + 60
        while not customer_key_exists(secure, topic_prefix, cid):
            assert time.monotonic() < deadline, worker.log_tail()
            time.sleep(0.2)
    finally:
        assert worker.stop() == 0
    pending = run_cli(secure, topic_prefix, "forget", cid, "--yes", "--wait", "1")
    assert pending.returncode == 3, pending.stderr
    assert "pending: the state is still in Redis after 1 s" in pending.stdout
    assert customer_key_exists(secure, topic_prefix, cid)


def test_infra_status_and_rebuild_reach_the_secured_servers(secure, topic_prefix):
    create_topics(secure.plaintext_bootstrap, topic_specs(6, prefix=topic_prefix))
    status = run_cli(secure, topic_prefix, "infra", "status")
    assert status.returncode == 0, status.stdout + status.stderr
    lines = status.stdout.splitlines()
    assert any(line.split()[:2] == ["kafka", "up"] for line in lines), lines
    assert any(line.split()[:2] == ["redis", "up"] for line in lines), lines
    rebuilt = run_cli(secure, topic_prefix, "rebuild", "--yes")
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert "rewound 36 input partitions" in rebuilt.stdout


@pytest.mark.parametrize(
    ("change", "setting", "words"),
    [
        (
            {"KAFKA_SASL_PASSWORD": "wrong"},
            "KAFKA_SASL_PASSWORD",
            "refused the SCRAM-SHA-512 login",
        ),
        ({"KAFKA_SSL_CA_FILE": "other"}, "KAFKA_SSL_CA_FILE", "is not trusted"),
        (
            {"KAFKA_SASL_MECHANISM": "SCRAM-SHA-256"},
            "KAFKA_SASL_MECHANISM",
            "does not offer SCRAM-SHA-256",
        ),
        ({"REDIS_PASSWORD": "wrong"}, "REDIS_PASSWORD", "refused the login"),
        ({"REDIS_SSL_CA_FILE": "other"}, "REDIS_SSL_CA_FILE", "is not trusted"),
    ],
)
def test_a_wrong_password_or_an_untrusted_certificate_stops_the_worker_at_start(
    secure, topic_prefix, tmp_path, change, setting, words
):
    change = {k: str(secure.certs.other_ca) if v == "other" else v for k, v in change.items()}
    worker = secure_worker(secure, topic_prefix, tmp_path, "refused", **change)
    assert worker.wait(timeout=60) == 2
    lines = [line for line in worker.log_tail(200).splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error: ")]
    assert len(errors) == 1 and errors[0].startswith(f"error: {setting}: "), lines
    assert words in errors[0]
    assert "Traceback" not in "\n".join(lines)
    assert "wrong" not in errors[0] and KAFKA_PASSWORD not in errors[0]
