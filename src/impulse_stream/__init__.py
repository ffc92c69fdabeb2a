"""impulse-stream: real-time next-best-action engine for retail banks."""

__version__ = "0.1.0"
