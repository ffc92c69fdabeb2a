"""Errors a user can cause, each with a message that says what to do.

``ImpulseStreamError``
├── ``ConfigError``       an environment variable or option has a bad value
└── ``CatalogueError``    (``impulse_stream.core.catalogue``) the rule catalogue is invalid

The CLI turns every ``ImpulseStreamError`` into a one-line message and exit
code 2; nothing a user types or configures ends in a traceback.
"""


class ImpulseStreamError(Exception):
    """Base of every error a user can cause and fix."""


class ConfigError(ImpulseStreamError):
    """A setting has a bad value; the message names the variable and what is allowed."""
