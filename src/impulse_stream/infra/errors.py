"""What can go wrong with the local infrastructure, each with a message that says what to do.

``ImpulseStreamError``                  (``impulse_stream.errors``)
├── ``ConfigError``               a port, name or path in the environment is invalid
└── ``InfraError``                Kafka or Redis could not be installed, started or reached
    ├── ``ToolMissingError``      java, mvn or redis-server is missing and cannot be installed
    ├── ``PortInUseError``        another process holds a port the stack needs
    └── ``ServerStartError``      a server did not answer in time; carries its log tail
"""

from __future__ import annotations

from impulse_stream.errors import ImpulseStreamError


class InfraError(ImpulseStreamError):
    """Local Kafka or Redis could not be installed, started, stopped or reached."""


class ToolMissingError(InfraError):
    """A program the stack needs (java, mvn, redis-server) is missing."""


class PortInUseError(InfraError):
    """Another process already listens on a port the stack was told to use."""


class ServerStartError(InfraError):
    """A server exited or did not answer in time; the message ends with its log tail."""
