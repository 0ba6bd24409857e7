"""Service configuration: read from the environment once, typed, validated.

Every setting is documented in README.md ("Configuration"). `Config.from_env()`
is the only place that reads `os.environ`; the app copies the result into
`app.config` so that Flask extensions see their usual keys.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

BASE_DIR = Path(__file__).resolve().parent
DEFAULT_SQLITE_PATH = BASE_DIR / "instance" / "dialer.sqlite3"
APP_ENVS = ("production", "development", "testing")
LOG_FORMATS = ("text", "json")


class ConfigError(RuntimeError):
    """The environment does not describe a service that can start."""


def normalize_database_url(url: str) -> str:
    """Point PostgreSQL URLs (Heroku's `postgres://` included) at psycopg 3."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def _split_list(value: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in value.split(",") if item.strip())


def _parse_bool(name: str, value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off", ""):
        return False
    raise ConfigError(f"{name} must be true or false, got {value!r}")


def _parse_int(name: str, value: str, minimum: int = 0) -> int:
    try:
        number = int(value)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, got {value!r}") from None
    if number < minimum:
        raise ConfigError(f"{name} must be at least {minimum}, got {number}")
    return number


def _parse_seconds(name: str, value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise ConfigError(f"{name} must be a number of seconds, got {value!r}") from None
    if not number > 0:
        raise ConfigError(f"{name} must be more than 0, got {value!r}")
    return number


class _Environment:
    """Typed reads of optional settings: an unset or empty variable means the default."""

    def __init__(self, env: Mapping[str, str]):
        self.env = env

    def _raw(self, name: str) -> str:
        return self.env.get(name, "").strip()

    def integer(self, name: str, default: int, minimum: int = 1) -> int:
        raw = self._raw(name)
        return _parse_int(name, raw, minimum) if raw else default

    def seconds(self, name: str, default: float) -> float:
        raw = self._raw(name)
        return _parse_seconds(name, raw) if raw else default

    def boolean(self, name: str, default: bool) -> bool:
        raw = self._raw(name)
        return _parse_bool(name, raw) if raw else default


def _parse_states_mapping(value: str) -> dict[str, str]:
    from service.models.states import STATE_NAMES

    try:
        mapping = json.loads(value)
    except ValueError:
        raise ConfigError("DAKTELA_STATES_MAPPING must be a JSON object") from None
    if not isinstance(mapping, dict) or not all(isinstance(k, str) for k in mapping):
        raise ConfigError("DAKTELA_STATES_MAPPING must be a JSON object of status name to state name")
    unknown = sorted(str(v) for v in mapping.values() if v not in STATE_NAMES)
    if unknown:
        raise ConfigError(f"DAKTELA_STATES_MAPPING names unknown states: {', '.join(unknown)}")
    return mapping


def _parse_timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"DAKTELA_TIMEZONE must be a time zone such as Europe/Prague, got {name!r}") from None
    return name


@dataclass(frozen=True)
class DaktelaConfig:
    """Settings of the Daktela backend (DAKTELA_*)."""

    url: str = ""
    access_token: str = ""
    autodialer_record_type: str = ""
    predictive_record_type: str = ""
    tts_field: str = "autodialer_text"
    timeout_seconds: float = 5.0
    record_name_prefix: str = "dialer_"
    max_concurrency: int = 8
    final_actions: frozenset[int] = frozenset({5})
    states_mapping: Mapping[str, str] = field(default_factory=dict)
    webhook_secrets: tuple[str, ...] = ()
    timezone: str = "Europe/Prague"
    poll_overlap_seconds: int = 120

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> "DaktelaConfig":
        def text(name: str, default: str = "") -> str:
            return env.get(name, "").strip() or default

        read = _Environment(env)
        return cls(
            url=text("DAKTELA_URL").rstrip("/"),
            access_token=text("DAKTELA_ACCESS_TOKEN"),
            autodialer_record_type=text("DAKTELA_AUTODIALER_RECORD_TYPE"),
            predictive_record_type=text("DAKTELA_PREDICTIVE_RECORD_TYPE"),
            tts_field=text("DAKTELA_TTS_FIELD", cls.tts_field),
            timeout_seconds=read.seconds("DAKTELA_TIMEOUT_SECONDS", cls.timeout_seconds),
            record_name_prefix=text("DAKTELA_RECORD_NAME_PREFIX", cls.record_name_prefix),
            max_concurrency=read.integer("DAKTELA_MAX_CONCURRENCY", cls.max_concurrency),
            final_actions=frozenset(
                _parse_int("DAKTELA_FINAL_ACTIONS", item)
                for item in _split_list(text("DAKTELA_FINAL_ACTIONS", "5"))
            ),
            states_mapping=_parse_states_mapping(text("DAKTELA_STATES_MAPPING", "{}")),
            webhook_secrets=_split_list(env.get("DAKTELA_WEBHOOK_SECRETS", "")),
            timezone=_parse_timezone(text("DAKTELA_TIMEZONE", cls.timezone)),
            poll_overlap_seconds=read.integer("DAKTELA_POLL_OVERLAP_SECONDS", cls.poll_overlap_seconds, 0),
        )

    def missing_settings(self) -> list[str]:
        names = {
            "DAKTELA_URL": self.url,
            "DAKTELA_ACCESS_TOKEN": self.access_token,
            "DAKTELA_AUTODIALER_RECORD_TYPE": self.autodialer_record_type,
        }
        return [name for name, value in names.items() if not value]


@dataclass(frozen=True)
class StatusCheckConfig:
    """How call outcomes are tracked (DIALER_* status settings)."""

    interval_seconds: float = 60.0
    max_failed_checks: int = 5
    idle_timeout_minutes: int = 1440
    # Most webhooks one transaction applies (1: a transaction per webhook).
    webhook_group_size: int = 64
    # Days a final message's history is kept (0: for ever).
    event_retention_days: int = 0

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> "StatusCheckConfig":
        read = _Environment(env)
        return cls(
            interval_seconds=read.seconds("DIALER_CHECK_STATUS_INTERVAL_SECONDS", cls.interval_seconds),
            max_failed_checks=read.integer("DIALER_NUMBER_OF_STATUS_CHECK_ATTEMPTS", cls.max_failed_checks),
            idle_timeout_minutes=read.integer("DIALER_IDLE_MESSAGES_TIMEOUT_MINUTES", cls.idle_timeout_minutes),
            webhook_group_size=read.integer("DIALER_WEBHOOK_GROUP_SIZE", cls.webhook_group_size),
            event_retention_days=read.integer("DIALER_EVENT_RETENTION_DAYS", cls.event_retention_days, minimum=0),
        )


@dataclass(frozen=True)
class BatchConfig:
    """How the worker publishes queued messages and retries failed ones (DIALER_BATCH_*)."""

    sending: bool = False
    size: int = 100
    max_number_of_send_attempts: int = 5
    max_seconds_to_send: int = 3600
    send_interval_seconds: float = 5.0
    retry_base_seconds: float = 10.0
    retry_max_seconds: float = 600.0
    publish_lease_seconds: int = 300

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> "BatchConfig":
        read = _Environment(env)
        return cls(
            sending=read.boolean("DIALER_BATCH_SENDING", cls.sending),
            size=read.integer("DIALER_BATCH_SIZE", cls.size),
            max_number_of_send_attempts=read.integer(
                "DIALER_BATCH_MAX_NUMBER_OF_SEND_ATTEMPTS", cls.max_number_of_send_attempts
            ),
            max_seconds_to_send=read.integer("DIALER_BATCH_MAX_SECONDS_TO_SEND", cls.max_seconds_to_send),
            send_interval_seconds=read.seconds("DIALER_SEND_INTERVAL_SECONDS", cls.send_interval_seconds),
            retry_base_seconds=read.seconds("DIALER_RETRY_BASE_SECONDS", cls.retry_base_seconds),
            retry_max_seconds=read.seconds("DIALER_RETRY_MAX_SECONDS", cls.retry_max_seconds),
            publish_lease_seconds=read.integer("DIALER_PUBLISH_LEASE_SECONDS", cls.publish_lease_seconds),
        )


DEFAULT_ALLOWED_NUMBER_TYPES = frozenset(
    {"MOBILE", "FIXED_LINE", "FIXED_LINE_OR_MOBILE", "VOIP", "PERSONAL_NUMBER"}
)


def _parse_number_types(value: str) -> frozenset[str]:
    import phonenumbers

    known = {name for name in vars(phonenumbers.PhoneNumberType) if name.isupper()}
    names = {item.upper() for item in _split_list(value)}
    unknown = sorted(names - known)
    if unknown or not names:
        raise ConfigError(f"DIALER_ALLOWED_NUMBER_TYPES must name types among {', '.join(sorted(known))}, "
                          f"got {value!r}")
    return frozenset(names)


@dataclass(frozen=True)
class TimingConfig:
    """When calls may happen and to whom (DIALER_CALLING_HOURS and the other timing settings)."""

    calling_hours: str | None = None
    timezone: str = "UTC"
    skip_public_holidays: bool = False
    default_validity_hours: int | None = None
    recipient_daily_limit: int | None = None
    allowed_number_types: frozenset[str] = DEFAULT_ALLOWED_NUMBER_TYPES

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> "TimingConfig":
        from service.dialer.timing.hours import CallingHoursError, parse_calling_hours

        read = _Environment(env)
        hours = env.get("DIALER_CALLING_HOURS", "").strip() or None
        if hours is not None:
            try:
                parse_calling_hours(hours)
            except CallingHoursError as exc:
                raise ConfigError(f"DIALER_CALLING_HOURS: {exc}") from None
        zone = env.get("DIALER_TIMEZONE", "").strip() or cls.timezone
        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ConfigError(f"DIALER_TIMEZONE must be a time zone such as Europe/Prague, got {zone!r}") from None
        validity = read.integer("DIALER_DEFAULT_VALIDITY_HOURS", 0)
        limit = read.integer("DIALER_RECIPIENT_DAILY_LIMIT", 0)
        types = env.get("DIALER_ALLOWED_NUMBER_TYPES", "").strip()
        return cls(
            calling_hours=hours, timezone=zone,
            skip_public_holidays=read.boolean("DIALER_SKIP_PUBLIC_HOLIDAYS", cls.skip_public_holidays),
            default_validity_hours=validity or None, recipient_daily_limit=limit or None,
            allowed_number_types=_parse_number_types(types) if types else cls.allowed_number_types,
        )


def _parse_schedule(name: str, value: str) -> tuple[float, ...]:
    delays = tuple(float(_parse_int(name, item)) for item in _split_list(value))
    if not delays:
        raise ConfigError(f"{name} must list at least one delay in seconds, such as 0,5,300")
    return delays


def _parse_signing_secret(value: str) -> str:
    import base64
    import binascii

    if not value:
        return ""
    try:
        key = base64.b64decode(value.removeprefix("whsec_"), validate=True)
    except (binascii.Error, ValueError):
        key = b""
    if not value.startswith("whsec_") or len(key) < 24:
        raise ConfigError("DIALER_CALLBACK_SIGNING_SECRET must be whsec_ followed by at least 24 bytes in base64")
    return value


@dataclass(frozen=True)
class CallbackConfig:
    """Status callbacks to client systems (DIALER_CALLBACK_*)."""

    signing_secret: str = ""
    secret_overlap_hours: int = 24
    concurrency: int = 8
    # Svix's schedule: the first attempt at once, then the delay before each retry.
    retry_schedule: tuple[float, ...] = (0.0, 5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0, 36000.0)
    disable_after_hours: int = 120
    retention_days: int = 30
    allow_private_networks: bool = False
    poll_seconds: float = 0.5
    connect_timeout_seconds: float = 5.0
    timeout_seconds: float = 15.0

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> "CallbackConfig":
        read = _Environment(env)
        schedule = env.get("DIALER_CALLBACK_RETRY_SCHEDULE", "").strip()
        return cls(
            signing_secret=_parse_signing_secret(env.get("DIALER_CALLBACK_SIGNING_SECRET", "").strip()),
            secret_overlap_hours=read.integer("DIALER_CALLBACK_SECRET_OVERLAP_HOURS", cls.secret_overlap_hours, 0),
            concurrency=read.integer("DIALER_CALLBACK_CONCURRENCY", cls.concurrency),
            retry_schedule=_parse_schedule("DIALER_CALLBACK_RETRY_SCHEDULE", schedule) if schedule
            else cls.retry_schedule,
            disable_after_hours=read.integer("DIALER_CALLBACK_DISABLE_AFTER_HOURS", cls.disable_after_hours),
            retention_days=read.integer("DIALER_CALLBACK_RETENTION_DAYS", cls.retention_days),
            allow_private_networks=read.boolean("DIALER_CALLBACK_ALLOW_PRIVATE_NETWORKS", False),
            poll_seconds=read.seconds("DIALER_CALLBACK_POLL_SECONDS", cls.poll_seconds),
            timeout_seconds=read.seconds("DIALER_CALLBACK_TIMEOUT_SECONDS", cls.timeout_seconds),
        )


@dataclass(frozen=True)
class Config:
    database_url: str = f"sqlite:///{DEFAULT_SQLITE_PATH}"
    secret_key: str = ""
    app_env: str = "production"
    api_keys: tuple[str, ...] = ()
    sender_backend: str = "dummy"
    template_model: str = "service.models.template.DialerTemplate"
    default_phone_region: str | None = None
    max_content_length: int = 1024 * 1024
    bulk_max_recipients: int = 1000
    log_level: str = "INFO"
    log_format: str = "text"
    # /metrics: open to a bearer METRICS_TOKEN, or to anyone with METRICS_PUBLIC.
    metrics_token: str = ""
    metrics_public: bool = False
    # Connections one process may hold: pool_size kept open, max_overflow more
    # opened on demand. from_env's default overflow lets every thread of a web
    # process (GUNICORN_THREADS, 16) hold one at once.
    database_pool_size: int = 5
    database_max_overflow: int = 11
    database_pool_timeout: float = 30.0
    daktela: DaktelaConfig = field(default_factory=DaktelaConfig)
    batch: BatchConfig = field(default_factory=BatchConfig)
    status: StatusCheckConfig = field(default_factory=StatusCheckConfig)
    timing: TimingConfig = field(default_factory=TimingConfig)
    callbacks: CallbackConfig = field(default_factory=CallbackConfig)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "Config":
        env = os.environ if environ is None else environ
        app_env = env.get("APP_ENV", "production").strip().lower() or "production"
        if app_env not in APP_ENVS:
            raise ConfigError(f"APP_ENV must be one of {', '.join(APP_ENVS)}, got {app_env!r}")
        region = env.get("DIALER_DEFAULT_PHONE_REGION", "").strip().upper() or None
        if region is not None:
            _check_region(region)
        read = _Environment(env)
        pool_size = read.integer("DATABASE_POOL_SIZE", cls.database_pool_size)
        threads = read.integer("GUNICORN_THREADS", 16)
        config = cls(
            database_url=normalize_database_url(
                env.get("DATABASE_URL", "").strip() or cls.database_url
            ),
            secret_key=env.get("SECRET_KEY", ""),
            app_env=app_env,
            api_keys=_split_list(env.get("DIALER_API_KEYS", "")),
            sender_backend=_sender_backend(env, app_env),
            template_model=env.get("DIALER_TEMPLATE_MODEL", "").strip() or cls.template_model,
            default_phone_region=region,
            bulk_max_recipients=read.integer("DIALER_BULK_MAX_RECIPIENTS", cls.bulk_max_recipients),
            log_level=env.get("LOG_LEVEL", "INFO").strip().upper() or "INFO",
            log_format=_log_format(env),
            metrics_token=env.get("METRICS_TOKEN", "").strip(),
            metrics_public=read.boolean("METRICS_PUBLIC", cls.metrics_public),
            database_pool_size=pool_size,
            database_max_overflow=read.integer("DATABASE_MAX_OVERFLOW", max(10, threads - pool_size), minimum=0),
            database_pool_timeout=read.seconds("DATABASE_POOL_TIMEOUT", cls.database_pool_timeout),
            daktela=DaktelaConfig.from_env(env),
            batch=BatchConfig.from_env(env),
            status=StatusCheckConfig.from_env(env),
            timing=TimingConfig.from_env(env),
            callbacks=CallbackConfig.from_env(env),
        )
        config.validate()
        return config

    @property
    def is_production(self) -> bool:
        return self.app_env == "production"

    def validate(self) -> None:
        if not self.is_production:
            return
        missing = []
        if not self.secret_key:
            missing.append("SECRET_KEY")
        if not self.api_keys:
            missing.append("DIALER_API_KEYS")
        if not self.sender_backend:
            missing.append("DIALER_SENDER_BACKEND (daktela, a backend's dotted path, or dummy to call no one)")
        if self.sender_backend == "daktela":
            missing += self.daktela.missing_settings()
        if missing:
            raise ConfigError(
                "Refusing to start in production without "
                + ", ".join(missing)
                + ". Set them in the environment (see README.md, Configuration),"
                " or set APP_ENV=development for local use."
            )

    def engine_options(self) -> dict:
        """SQLAlchemy engine options; the pool limits apply where there is a
        connection pool to size (not an in-memory SQLite database)."""
        options: dict = {"pool_pre_ping": True}
        if self.database_url in ("sqlite://", "sqlite:///") or ":memory:" in self.database_url:
            return options
        return {**options, "pool_size": self.database_pool_size, "max_overflow": self.database_max_overflow,
                "pool_timeout": self.database_pool_timeout}

    def flask_settings(self) -> dict:
        """The keys Flask and its extensions read from `app.config`."""
        settings = {
            "SECRET_KEY": self.secret_key or "development-only-secret",
            "SQLALCHEMY_DATABASE_URI": self.database_url,
            "SQLALCHEMY_ENGINE_OPTIONS": self.engine_options(),
            "MAX_CONTENT_LENGTH": self.max_content_length,
            "TESTING": self.app_env == "testing",
            "API_TITLE": "Dialer message service",
            "API_VERSION": "v1",
            "OPENAPI_VERSION": "3.0.3",
            "OPENAPI_URL_PREFIX": "/api",
            "OPENAPI_JSON_PATH": "openapi.json",
            "OPENAPI_SWAGGER_UI_PATH": "docs",
            "OPENAPI_SWAGGER_UI_URL": "/api/docs/assets/",  # service/api/docs_assets.py
            # No badge from validator.swagger.io: the page loads nothing from elsewhere.
            "OPENAPI_SWAGGER_UI_CONFIG": {"validatorUrl": None},
        }
        return settings


def _sender_backend(env: Mapping[str, str], app_env: str) -> str:
    """The named backend; outside production the dummy one by default. In
    production nothing is assumed (validate() refuses an empty name): a
    silently dummy service answers 201 to every send and calls no one."""
    named = env.get("DIALER_SENDER_BACKEND", "").strip()
    return named or ("" if app_env == "production" else Config.sender_backend)


def _log_format(env: Mapping[str, str]) -> str:
    value = env.get("LOG_FORMAT", "").strip().lower() or "text"
    if value not in LOG_FORMATS:
        raise ConfigError(f"LOG_FORMAT must be text or json, got {value!r}")
    return value


def _check_region(region: str) -> None:
    import phonenumbers

    if region not in phonenumbers.SUPPORTED_REGIONS:
        raise ConfigError(
            f"DIALER_DEFAULT_PHONE_REGION must be a two-letter region such as CZ, got {region!r}"
        )
