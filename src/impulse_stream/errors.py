"""Every error a user or an operator can meet, each with a message that says what to do.

``ImpulseStreamError``
├── ``ConfigError``               an environment variable or option has a bad value
├── ``CatalogueError``            the rule catalogue is invalid (also a ``ValueError``)
├── ``InputFileError``            an events file cannot be read; names the file and line
├── ``DataToolError``             bad arguments or input of generate, export, replay, backtest
├── ``Interrupted``               Ctrl-C: a data tool stopped cleanly (exit code 130)
├── ``RebuildRefused``            ``rebuild`` would harm a running deployment
├── ``DemoFailed``                the demo did not see what it expected
├── ``DependencyUnavailable``     Kafka or Redis did not answer in the start-up wait
├── ``InfraError``                local Kafka or Redis could not be installed, started, reached
│   ├── ``ToolMissingError``      java, mvn or redis-server is missing
│   ├── ``PortInUseError``        another process holds a port the stack needs
│   └── ``ServerStartError``      a server did not answer in time; carries its log tail
├── ``StoreUnavailable``          the state store cannot be reached; the worker retries
├── ``StateLost``                 the state store lost acknowledged data; run ``rebuild``
├── ``PublishFailed``             Kafka did not acknowledge a publish; the batch is retried
├── ``StateDecodeError``          stored state bytes are corrupt (also a ``ValueError``)
├── ``DeadLetterHeaderError``     a dead letter's headers are malformed (also a ``ValueError``)
└── ``DecodeFailure``             a message breaks its topic's contract (also a ``ValueError``);
    │                             ``reason`` is the dead-letter reason code
    ├── ``UnknownTopic``
    ├── ``MessageTooLarge``
    ├── ``Tombstone``
    ├── ``InvalidEncoding``
    ├── ``InvalidJson``
    ├── ``SchemaViolation``
    └── ``KeyMismatch``

The CLI turns every ``ImpulseStreamError`` into a one-line message and exit code 2
(``Interrupted``: 130); nothing a user types or configures ends in a traceback. The
worker never stops on one: a ``DecodeFailure`` sends the message to the dead-letter
topic, ``StoreUnavailable`` and ``PublishFailed`` retry the batch, ``StateLost`` stops
the partition until ``rebuild``.

Why every class is defined here, the core's too: the tree has no behaviour and this
module imports nothing of the package (an import-linter contract, ``errors is a
leaf``), so it sits below every layer and ``core/`` may import it without reaching
the shell; the core stays free of I/O and one module holds the whole tree. The
modules that raise these errors import them from here.

Not in the tree, on purpose: exceptions that never leave the function that raises
them (``startup.NotYet``: one failed probe, tried again; ``desk.server.BadRequest``:
becomes a 400 answer). ``tests/unit/test_errors.py`` fails on any other exception
class of the package outside this module or outside the tree.
"""

from __future__ import annotations

from typing import ClassVar

JsonPath = tuple[str | int, ...]


class ImpulseStreamError(Exception):
    """Base of every error a user or an operator can meet."""


class ConfigError(ImpulseStreamError):
    """A setting has a bad value; the message names the variable and what is allowed."""


class CatalogueError(ImpulseStreamError, ValueError):
    """A catalogue that cannot be used; fix the named field and reload."""

    def __init__(self, source: str, path: JsonPath, message: str, line: int | None = None) -> None:
        self.source = source
        self.path = path
        self.line = line
        self.message = message
        super().__init__(self._render())

    @property
    def json_path(self) -> str:
        out = "$"
        for part in self.path:
            out += f"[{part}]" if isinstance(part, int) else f".{part}"
        return out

    def with_line(self, line: int | None) -> CatalogueError:
        return CatalogueError(self.source, self.path, self.message, line)

    def _render(self) -> str:
        where = self.source if self.line is None else f"{self.source}:{self.line}"
        return f"{where}: {self.json_path}: {self.message}"


class InputFileError(ImpulseStreamError):
    """An events file cannot be read; the message names the file and line."""


class DataToolError(ImpulseStreamError):
    """Bad arguments or input of ``generate``, ``export``, ``replay`` or ``backtest`` (exit 2)."""


class Interrupted(ImpulseStreamError):
    """Ctrl-C: the run stopped cleanly; the message says where (exit code 130)."""


class RebuildRefused(ImpulseStreamError):
    """``rebuild`` would harm a running deployment; nothing was changed."""


class DemoFailed(ImpulseStreamError):
    """The demo did not see what it expected; the message says where to look."""


class DependencyUnavailable(ImpulseStreamError):
    """Kafka or Redis did not answer within ``IMPULSE_STREAM_STARTUP_WAIT_SECONDS``."""


class InfraError(ImpulseStreamError):
    """Local Kafka or Redis could not be installed, started, stopped or reached."""


class ToolMissingError(InfraError):
    """A program the stack needs (java, mvn, redis-server) is missing."""


class PortInUseError(InfraError):
    """Another process already listens on a port the stack was told to use."""


class ServerStartError(InfraError):
    """A server exited or did not answer in time; the message ends with its log tail."""


class StoreUnavailable(ImpulseStreamError):
    """The state store cannot be reached; the worker retries the batch.

    The message says what failed; check that Redis runs at ``REDIS_URL`` (the
    ``/readyz`` probe answers 503 while it does not).
    """


class StateLost(ImpulseStreamError):
    """The state store lost data it had acknowledged for ``partition``; rebuild it."""

    def __init__(self, partition: int, detail: str) -> None:
        super().__init__(
            f"partition {partition}: the state store lost data it had written ({detail}); "
            "the partition is stopped: run `impulse-stream rebuild`"
        )
        self.partition = partition
        self.detail = detail


class PublishFailed(ImpulseStreamError):
    """Kafka did not acknowledge a publish; the batch is retried, the outbox keeps the outputs."""


class StateDecodeError(ImpulseStreamError, ValueError):
    """Stored state bytes are corrupt or of an unknown format version."""


class DeadLetterHeaderError(ImpulseStreamError, ValueError):
    """Headers of a dead-letter message are missing or malformed; the message names which."""


class DecodeFailure(ImpulseStreamError, ValueError):
    """A message that does not meet the topic contract; ``reason`` is its code."""

    reason: ClassVar[str] = "decode_failure"

    def __init__(self, message: str, *, topic: str) -> None:
        super().__init__(message)
        self.topic = topic


class UnknownTopic(DecodeFailure):
    reason = "unknown_topic"


class MessageTooLarge(DecodeFailure):
    reason = "too_large"


class Tombstone(DecodeFailure):
    reason = "tombstone"


class InvalidEncoding(DecodeFailure):
    reason = "invalid_encoding"


class InvalidJson(DecodeFailure):
    reason = "invalid_json"


class SchemaViolation(DecodeFailure):
    reason = "schema_violation"

    def __init__(self, message: str, *, topic: str, path: str) -> None:
        super().__init__(f"schema violation at {path}: {message}", topic=topic)
        self.path = path
        self.message = message


class KeyMismatch(DecodeFailure):
    reason = "key_mismatch"
