"""Transport security of the Kafka and Redis clients: TLS and SASL / ACL credentials.

The one place that turns the security settings into client arguments. Every
Kafka client of the project (the Faust worker, the CLI tools, ``infra``'s
admin client) and every Redis client takes its arguments from here:

* :class:`KafkaSecurity` ``.aiokafka_kwargs()`` for ``AIOKafkaProducer``,
  ``AIOKafkaConsumer`` and ``AIOKafkaAdminClient``; ``.faust_credentials()``
  for the Faust app's ``broker_credentials``.
* :class:`RedisSecurity` ``.redis_kwargs()`` for ``redis.asyncio.Redis.from_url``.

Both read their environment variables once (``from_env``) and check them: a
bad value is a :class:`~impulse_stream.errors.ConfigError` that names the
variable. A password comes from ``*_PASSWORD`` or from the file named by
``*_PASSWORD_FILE`` (a mounted Kubernetes secret), never from both.

OAUTHBEARER is not configured by environment: aiokafka takes a token provider
object (``sasl_oauth_token_provider``, an ``aiokafka.abc.AbstractTokenProvider``),
and Faust takes ``faust.OAuthCredentials(oauth_cb=...)``. A deployment that
needs it passes such an object where :meth:`KafkaSecurity.faust_credentials`
and :meth:`KafkaSecurity.aiokafka_kwargs` are used.
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlsplit

from impulse_stream.errors import ConfigError

KAFKA_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
KAFKA_SASL_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")


def _flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name}={raw!r}: expected 1 or 0 (true or false)")


def _path(env: Mapping[str, str], name: str) -> str:
    raw = env.get(name, "").strip()
    if raw and not Path(raw).expanduser().is_file():
        raise ConfigError(f"{name}={raw!r}: no such file")
    return str(Path(raw).expanduser()) if raw else ""


def _secret(env: Mapping[str, str], name: str) -> str:
    """``name`` or the content of the file ``name_FILE`` (without its trailing newline)."""
    direct = env.get(name, "")
    file_name = name + "_FILE"
    path = env.get(file_name, "").strip()
    if direct and path:
        raise ConfigError(f"set {name} or {file_name}, not both")
    if not path:
        return direct
    try:
        return Path(path).expanduser().read_text().rstrip("\r\n")
    except OSError as exc:
        raise ConfigError(f"{file_name}={path!r}: cannot read ({exc.strerror})") from None


def ssl_context(
    cafile: str, certfile: str, keyfile: str, check_hostname: bool, *, names: tuple[str, str, str]
) -> ssl.SSLContext:
    """A client TLS context trusting ``cafile`` (the system's CAs when empty)."""
    ca_name, cert_name, key_name = names
    try:
        context = ssl.create_default_context(cafile=cafile or None)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"{ca_name}={cafile!r}: not a PEM CA certificate ({exc})") from None
    context.check_hostname = check_hostname
    if certfile:
        try:
            context.load_cert_chain(certfile, keyfile or None)
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(
                f"{cert_name}={certfile!r} / {key_name}={keyfile!r}: "
                f"not a matching PEM certificate and key ({exc})"
            ) from None
    return context


@dataclass(frozen=True)
class KafkaSecurity:
    """How the Kafka clients authenticate and encrypt (``KAFKA_SECURITY_PROTOCOL`` & co.)."""

    protocol: str = "PLAINTEXT"
    sasl_mechanism: str = "PLAIN"
    sasl_username: str = ""
    sasl_password: str = ""
    ssl_cafile: str = ""
    ssl_certfile: str = ""
    ssl_keyfile: str = ""
    ssl_check_hostname: bool = True

    ENV: ClassVar[dict[str, str]] = {
        "protocol": "KAFKA_SECURITY_PROTOCOL",
        "sasl_mechanism": "KAFKA_SASL_MECHANISM",
        "sasl_username": "KAFKA_SASL_USERNAME",
        "sasl_password": "KAFKA_SASL_PASSWORD",
        "ssl_cafile": "KAFKA_SSL_CA_FILE",
        "ssl_certfile": "KAFKA_SSL_CERT_FILE",
        "ssl_keyfile": "KAFKA_SSL_KEY_FILE",
        "ssl_check_hostname": "KAFKA_SSL_CHECK_HOSTNAME",
    }

    def __repr__(self) -> str:  # the password never reaches a log line or a traceback
        return (
            f"KafkaSecurity(protocol={self.protocol!r}, sasl_mechanism={self.sasl_mechanism!r}, "
            f"sasl_username={self.sasl_username!r})"
        )

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> KafkaSecurity:
        env = os.environ if env is None else env
        e = cls.ENV
        protocol = env.get(e["protocol"], "").strip().upper() or "PLAINTEXT"
        mechanism = env.get(e["sasl_mechanism"], "").strip().upper() or "PLAIN"
        security = cls(
            protocol=protocol,
            sasl_mechanism=mechanism,
            sasl_username=env.get(e["sasl_username"], "").strip(),
            sasl_password=_secret(env, e["sasl_password"]),
            ssl_cafile=_path(env, e["ssl_cafile"]),
            ssl_certfile=_path(env, e["ssl_certfile"]),
            ssl_keyfile=_path(env, e["ssl_keyfile"]),
            ssl_check_hostname=_flag(env, e["ssl_check_hostname"], True),
        )
        security.validate()
        return security

    @property
    def uses_ssl(self) -> bool:
        return self.protocol in ("SSL", "SASL_SSL")

    @property
    def uses_sasl(self) -> bool:
        return self.protocol in ("SASL_PLAINTEXT", "SASL_SSL")

    def validate(self) -> None:
        e = self.ENV
        if self.protocol not in KAFKA_PROTOCOLS:
            raise ConfigError(
                f"{e['protocol']}={self.protocol!r}: expected one of {', '.join(KAFKA_PROTOCOLS)}"
            )
        if self.sasl_mechanism not in KAFKA_SASL_MECHANISMS:
            raise ConfigError(
                f"{e['sasl_mechanism']}={self.sasl_mechanism!r}: expected one of "
                f"{', '.join(KAFKA_SASL_MECHANISMS)} (OAUTHBEARER: see docs/settings.md)"
            )
        if self.uses_sasl and not (self.sasl_username and self.sasl_password):
            raise ConfigError(
                f"{e['protocol']}={self.protocol} needs {e['sasl_username']} and "
                f"{e['sasl_password']} (or {e['sasl_password']}_FILE)"
            )
        files = ("ssl_cafile", "ssl_certfile", "ssl_keyfile")
        ssl_files = [e[k] for k in files if getattr(self, k)]
        if ssl_files and not self.uses_ssl:
            raise ConfigError(
                f"{ssl_files[0]} is set but {e['protocol']}={self.protocol}; "
                "use SSL or SASL_SSL to encrypt"
            )
        if bool(self.ssl_certfile) != bool(self.ssl_keyfile):
            raise ConfigError(
                f"{e['ssl_certfile']} and {e['ssl_keyfile']} go together (a client certificate)"
            )

    def ssl_context(self) -> ssl.SSLContext | None:
        if not self.uses_ssl:
            return None
        e = self.ENV
        return ssl_context(
            self.ssl_cafile,
            self.ssl_certfile,
            self.ssl_keyfile,
            self.ssl_check_hostname,
            names=(e["ssl_cafile"], e["ssl_certfile"], e["ssl_keyfile"]),
        )

    def aiokafka_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for every aiokafka client (producer, consumer, admin)."""
        kwargs: dict[str, Any] = {"security_protocol": self.protocol}
        context = self.ssl_context()
        if context is not None:
            kwargs["ssl_context"] = context
        if self.uses_sasl:
            kwargs.update(
                sasl_mechanism=self.sasl_mechanism,
                sasl_plain_username=self.sasl_username,
                sasl_plain_password=self.sasl_password,
            )
        return kwargs

    def faust_credentials(self) -> Any:
        """Faust's ``broker_credentials`` (``None`` for PLAINTEXT)."""
        import faust

        context = self.ssl_context()
        if self.uses_sasl:
            return faust.SASLCredentials(
                username=self.sasl_username,
                password=self.sasl_password,
                ssl_context=context,
                mechanism=self.sasl_mechanism,
            )
        if context is not None:
            return faust.SSLCredentials(context)
        return None


@dataclass(frozen=True)
class RedisSecurity:
    """ACL credentials and TLS of the Redis clients, beside what ``REDIS_URL`` says.

    ``rediss://`` turns TLS on; the user and password may be in the URL
    (``rediss://user:password@host:6380/0``) or, better for secrets, in
    ``REDIS_USERNAME`` and ``REDIS_PASSWORD`` / ``REDIS_PASSWORD_FILE``.
    """

    username: str = ""
    password: str = ""
    ssl_cafile: str = ""
    ssl_certfile: str = ""
    ssl_keyfile: str = ""
    ssl_check_hostname: bool = True

    ENV: ClassVar[dict[str, str]] = {
        "username": "REDIS_USERNAME",
        "password": "REDIS_PASSWORD",
        "ssl_cafile": "REDIS_SSL_CA_FILE",
        "ssl_certfile": "REDIS_SSL_CERT_FILE",
        "ssl_keyfile": "REDIS_SSL_KEY_FILE",
        "ssl_check_hostname": "REDIS_SSL_CHECK_HOSTNAME",
    }

    def __repr__(self) -> str:
        return f"RedisSecurity(username={self.username!r}, ssl_cafile={self.ssl_cafile!r})"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> RedisSecurity:
        env = os.environ if env is None else env
        e = cls.ENV
        security = cls(
            username=env.get(e["username"], "").strip(),
            password=_secret(env, e["password"]),
            ssl_cafile=_path(env, e["ssl_cafile"]),
            ssl_certfile=_path(env, e["ssl_certfile"]),
            ssl_keyfile=_path(env, e["ssl_keyfile"]),
            ssl_check_hostname=_flag(env, e["ssl_check_hostname"], True),
        )
        if bool(security.ssl_certfile) != bool(security.ssl_keyfile):
            raise ConfigError(
                f"{e['ssl_certfile']} and {e['ssl_keyfile']} go together (a client certificate)"
            )
        if security.username and not security.password:
            raise ConfigError(f"{e['username']} needs {e['password']} (or {e['password']}_FILE)")
        return security

    def check_url(self, url: str) -> None:
        """TLS files only make sense with ``rediss://``."""
        e = self.ENV
        files = [e[k] for k in ("ssl_cafile", "ssl_certfile", "ssl_keyfile") if getattr(self, k)]
        if files and not url.startswith("rediss://"):
            raise ConfigError(f"{files[0]} is set but REDIS_URL is not rediss:// (TLS)")

    def redis_kwargs(self, url: str) -> dict[str, Any]:
        """Keyword arguments for ``Redis.from_url(url, ...)``."""
        kwargs: dict[str, Any] = {}
        if self.username:
            kwargs["username"] = self.username
        if self.password:
            kwargs["password"] = self.password
        if url.startswith("rediss://"):
            kwargs.update(
                ssl_cert_reqs="required",
                ssl_check_hostname=self.ssl_check_hostname,
            )
            if self.ssl_cafile:
                kwargs["ssl_ca_certs"] = self.ssl_cafile
            if self.ssl_certfile:
                kwargs["ssl_certfile"] = self.ssl_certfile
                kwargs["ssl_keyfile"] = self.ssl_keyfile
        return kwargs


# --- the 360 API's token and CORS origins (read with the settings) ---------------


def parse_origins(raw: str) -> tuple[str, ...]:
    """``https://desk.bank.example,http://localhost:3000`` -> the origins; ConfigError if bad."""
    origins = []
    for item in raw.split(","):
        origin = item.strip().rstrip("/")
        if not origin:
            continue
        parts = urlsplit(origin)
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.path:
            raise ConfigError(
                f"IMPULSE_STREAM_CORS_ORIGINS: {item.strip()!r} is no origin; "
                "expected scheme://host[:port], e.g. https://desk.bank.example"
            )
        origins.append(f"{parts.scheme}://{parts.netloc}".lower())
    return tuple(origins)


def read_api_token(token: str, token_file: str) -> str:
    """The bearer token: the setting itself, or the first line of the file it names."""
    if not token_file:
        return token.strip()
    try:
        text = Path(token_file).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(
            f"IMPULSE_STREAM_API_TOKEN_FILE={token_file!r}: cannot read it "
            f"({getattr(exc, 'strerror', None) or exc.__class__.__name__})"
        ) from None
    value = text.strip()
    if not value or "\n" in value:
        raise ConfigError(
            f"IMPULSE_STREAM_API_TOKEN_FILE={token_file!r}: expected one line holding the token"
        )
    return value
