"""A single-node Kafka (KRaft, broker and controller in one JVM) on loopback.

Layout under ``<data dir>/kafka``::

    server.properties   log4j2.properties   cluster.id   kafka.pid
    server.log          (the broker's log, INFO)
    stdout.log          (the JVM's own output: crashes, GC warnings)
    logs/               (Kafka's log.dirs: topic data and the metadata log)

Besides its PLAINTEXT listener (which the stack's own tools use), a broker can
have one :class:`SecureListener` with TLS and/or SASL/SCRAM for clients, as a
bank's cluster would: the transport security tests run the worker over it.
"""

from __future__ import annotations

import base64
import subprocess
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from impulse_stream.errors import InfraError, PortInUseError
from impulse_stream.infra.admin import probe_kafka
from impulse_stream.infra.install import ensure_kafka_jars, java_binary
from impulse_stream.infra.processes import (
    LocalServer,
    PidFile,
    log_size,
    log_tail,
    port_open,
    spawn_detached,
    wait_until_serving,
)
from impulse_stream.infra.settings import HOST, StackSettings

MAIN_CLASS = "kafka.Kafka"
STORAGE_TOOL = "kafka.tools.StorageTool"


SECURE_PROTOCOLS = ("SSL", "SASL_PLAINTEXT", "SASL_SSL")
SCRAM_MECHANISMS = ("SCRAM-SHA-256", "SCRAM-SHA-512")


@dataclass(frozen=True)
class SecureListener:
    """A client listener with TLS (``SSL``), SASL/SCRAM (``SASL_PLAINTEXT``) or both.

    ``keystore`` is one PEM file with the broker's PKCS#8 key (unencrypted) and
    its certificate chain; with ``truststore`` (a PEM CA) the broker also
    requires client certificates. ``scram_users`` (name -> password, no commas
    or brackets) are written into the metadata log when the storage is formatted.
    """

    port: int
    protocol: str = "SASL_SSL"
    keystore: Path | None = None
    truststore: Path | None = None
    scram_mechanism: str = "SCRAM-SHA-512"
    scram_users: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.protocol not in SECURE_PROTOCOLS:
            raise InfraError(f"secure listener: protocol must be one of {SECURE_PROTOCOLS}")
        if self.scram_mechanism not in SCRAM_MECHANISMS:
            raise InfraError(f"secure listener: mechanism must be one of {SCRAM_MECHANISMS}")
        if "SSL" in self.protocol and self.keystore is None:
            raise InfraError(f"secure listener: {self.protocol} needs a PEM keystore")

    @property
    def name(self) -> str:
        return self.protocol  # the listener's name is its protocol: one of each at most

    def properties(self) -> dict[str, str]:
        prefix = f"listener.name.{self.name.lower()}."
        props: dict[str, str] = {}
        if "SASL" in self.protocol:
            mechanism = self.scram_mechanism.lower()
            props[prefix + "sasl.enabled.mechanisms"] = self.scram_mechanism
            props[prefix + f"{mechanism}.sasl.jaas.config"] = (
                "org.apache.kafka.common.security.scram.ScramLoginModule required;"
            )
        if self.keystore is not None:
            props[prefix + "ssl.keystore.type"] = "PEM"
            props[prefix + "ssl.keystore.location"] = str(self.keystore)
        if self.truststore is not None:
            props[prefix + "ssl.truststore.type"] = "PEM"
            props[prefix + "ssl.truststore.location"] = str(self.truststore)
            props[prefix + "ssl.client.auth"] = "required"
        return props

    def scram_arguments(self) -> list[str]:
        """``kafka-storage format`` arguments that create the SCRAM users."""
        args = []
        for user, password in sorted(self.scram_users.items()):
            if any(c in user + password for c in ",[]="):
                raise InfraError(f"SCRAM user {user!r}: no ',[]=' in name or password")
            args += ["--add-scram", f"{self.scram_mechanism}=[name={user},password={password}]"]
        return args


def render_server_properties(
    settings: StackSettings, log_dir: Path, secure: SecureListener | None = None
) -> str:
    """server.properties of a combined broker + controller sized for a laptop or a CI box."""
    listeners = [
        f"PLAINTEXT://{HOST}:{settings.kafka_port}",
        f"CONTROLLER://{HOST}:{settings.kafka_controller_port}",
    ]
    advertised = [f"PLAINTEXT://{HOST}:{settings.kafka_port}"]
    protocols = ["PLAINTEXT:PLAINTEXT", "CONTROLLER:PLAINTEXT"]
    if secure is not None:
        listeners.append(f"{secure.name}://{HOST}:{secure.port}")
        advertised.append(f"{secure.name}://{HOST}:{secure.port}")
        protocols.append(f"{secure.name}:{secure.protocol}")
    props = {
        "process.roles": "broker,controller",
        "node.id": "1",
        "controller.quorum.voters": f"1@{HOST}:{settings.kafka_controller_port}",
        "listeners": ",".join(listeners),
        "advertised.listeners": ",".join(advertised),
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": ",".join(protocols),
        "log.dirs": str(log_dir),
        "auto.create.topics.enable": "false",
        "num.partitions": str(settings.partitions),
        "default.replication.factor": "1",
        "min.insync.replicas": "1",
        "offsets.topic.replication.factor": "1",
        # Fewer internal partitions: the group coordinator loads in a blink after a restart.
        "offsets.topic.num.partitions": "12",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "transaction.state.log.num.partitions": "12",
        "share.coordinator.state.topic.replication.factor": "1",
        "share.coordinator.state.topic.min.isr": "1",
        "group.initial.rebalance.delay.ms": "0",
        # After a kill -9 the new incarnation can register once the old session expired
        # (default 9 s); broker and controller share one JVM, so a pause stalls both alike.
        "broker.session.timeout.ms": "3000",
        "broker.heartbeat.interval.ms": "500",
        "num.network.threads": "2",
        "num.io.threads": "4",
        "num.recovery.threads.per.data.dir": "2",
        # Small files: tests create many short-lived topics; every partition maps two indexes.
        "log.segment.bytes": str(64 * 1024 * 1024),
        "log.index.size.max.bytes": str(1024 * 1024),
        "log.retention.hours": "168",
        "log.cleaner.threads": "1",
        "log.cleaner.dedupe.buffer.size": str(16 * 1024 * 1024),
        **(secure.properties() if secure is not None else {}),
    }
    return "".join(f"{k}={v}\n" for k, v in props.items())


def render_log4j2(server_log: Path) -> str:
    """log4j2 in the properties format (log4j-core reads it without extra jars)."""
    return f"""\
status = warn
shutdownHook = disable
appender.file.type = RollingFile
appender.file.name = file
appender.file.fileName = {server_log}
appender.file.filePattern = {server_log}.%i
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
appender.file.policies.type = Policies
appender.file.policies.size.type = SizeBasedTriggeringPolicy
appender.file.policies.size.size = 20MB
appender.file.strategy.type = DefaultRolloverStrategy
appender.file.strategy.max = 3
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = file
logger.state.name = state.change.logger
logger.state.level = WARN
logger.request.name = kafka.request.logger
logger.request.level = WARN
logger.cleaner.name = kafka.log.LogCleaner
logger.cleaner.level = WARN
# The full dump of every config at each start (server.properties is next to the log).
logger.config.name = org.apache.kafka.common.config.AbstractConfig
logger.config.level = WARN
"""


def new_cluster_id() -> str:
    """A KRaft cluster id: 16 random bytes, base64url without padding, not starting with '-'."""
    while True:
        text = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not text.startswith("-"):
            return text


class KafkaBroker(LocalServer):
    """The broker of one named stack: configure, format once, start, stop, kill."""

    def __init__(self, settings: StackSettings, secure: SecureListener | None = None) -> None:
        self.settings = settings
        self.secure = secure
        self.home = settings.data_dir / "kafka"
        self.config = self.home / "server.properties"
        self.log4j = self.home / "log4j2.properties"
        self.log_dir = self.home / "logs"
        self.server_log = self.home / "server.log"
        self.stdout_log = self.home / "stdout.log"
        self.pid_file = PidFile(self.home / "kafka.pid", f"{MAIN_CLASS} {self.config} ")
        self._log_offsets = (0, 0)  # where this start's output begins in stdout.log, server.log

    @property
    def bootstrap_servers(self) -> str:
        return f"{HOST}:{self.settings.kafka_port}"

    def start(self) -> int:
        """Start the broker (formatting its storage the first time) and wait until it serves.

        A broker of this stack that already runs is kept; returns its pid.
        """
        pid = self.pid()
        if pid is not None:
            self._wait_ready(pid)
            return pid
        ports = [self.settings.kafka_port, self.settings.kafka_controller_port]
        for port in ports + ([self.secure.port] if self.secure else []):
            if port_open(HOST, port):
                raise PortInUseError(
                    f"port {port} is already in use by another process; stop it or choose "
                    "other ports (KAFKA_PORT, KAFKA_CONTROLLER_PORT)"
                )
        libs = ensure_kafka_jars(self.settings)
        java = java_binary()
        classpath = f"{libs}/*"
        self.home.mkdir(parents=True, exist_ok=True)
        self.config.write_text(render_server_properties(self.settings, self.log_dir, self.secure))
        self.log4j.write_text(render_log4j2(self.server_log))
        self._format_storage(java, classpath)
        heap = self.settings.kafka_heap
        argv = [
            java,
            f"-Xmx{heap}",
            f"-Xms{min(256, _megabytes(heap))}m",
            "-XX:+UseG1GC",
            "-XX:MaxGCPauseMillis=20",
            "-XX:+ExplicitGCInvokesConcurrent",
            "-XX:+ExitOnOutOfMemoryError",
            f"-XX:ErrorFile={self.home}/hs_err_%p.log",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={self.log4j}",
            f"-Dkafka.logs.dir={self.home}",
            "-cp",
            classpath,
            MAIN_CLASS,
            str(self.config),
        ]
        self._log_offsets = (log_size(self.stdout_log), log_size(self.server_log))
        pid = spawn_detached(argv, self.stdout_log)
        self.pid_file.write(pid)
        self._wait_ready(pid)
        return pid

    def _format_storage(self, java: str, classpath: str) -> None:
        if (self.log_dir / "meta.properties").is_file():
            return
        id_file = self.home / "cluster.id"
        if not id_file.is_file():
            id_file.write_text(new_cluster_id() + "\n")
        argv = [
            java, "-Xmx256m", "-cp", classpath,
            STORAGE_TOOL, "format", "--ignore-formatted",
            "-t", id_file.read_text().strip(), "-c", str(self.config),
            *(self.secure.scram_arguments() if self.secure else []),
        ]  # fmt: skip
        done = subprocess.run(argv, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            output = (done.stdout + done.stderr).strip().splitlines()[-10:]
            raise InfraError(
                f"formatting Kafka storage in {self.log_dir} failed (exit {done.returncode}):\n"
                + "\n".join("    " + line for line in output)
            )

    def _wait_ready(self, pid: int) -> None:
        def serving() -> bool:
            if not port_open(HOST, self.settings.kafka_port):
                return False
            health = probe_kafka(self.bootstrap_servers, timeout=5.0)
            return health is not None and health.ready

        wait_until_serving(
            pid,
            self.pid_file.path,
            serving,
            timeout=self.settings.startup_timeout,
            poll=0.2,
            failure=self._failure,
        )

    def _failure(self, what: str) -> str:
        return (
            f"Kafka on {self.bootstrap_servers} {what}; see {self.server_log} and "
            f"{self.stdout_log}. Last lines:\n"
            f"{log_tail(self.stdout_log, 10, since=self._log_offsets[0])}\n"
            f"{log_tail(self.server_log, 20, since=self._log_offsets[1])}"
        )


def _megabytes(size: str) -> int:
    return int(size[:-1]) * (1024 if size.endswith("g") else 1)
