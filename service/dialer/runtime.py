"""The dialer's per-application parts: configuration, backend, template model."""
from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Callable

from flask import Flask

from config import Config
from service.backends import DialerBackend, load_backend_class
from service.importing import import_string
from service.infrastructure.runtime import install, installed
from service.models.template import AbstractDialerTemplate
from service.models.types import utcnow

EXTENSION_KEY = "dialer"
logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class DialerRuntime:
    config: Config
    backend: DialerBackend
    template_model: type[AbstractDialerTemplate]
    # "Now" (aware UTC) for every scheduling decision; tests install a clock they move.
    clock: Callable[[], datetime] = utcnow


def init_dialer(app: Flask, config: Config) -> DialerRuntime:
    """Build the backend and resolve the template model once, at start-up."""
    backend_class = load_backend_class(config.sender_backend)
    template_model = import_string(config.template_model, "DIALER_TEMPLATE_MODEL")
    if not (
        isinstance(template_model, type)
        and issubclass(template_model, AbstractDialerTemplate)
        and hasattr(template_model, "__table__")
    ):
        raise ValueError(
            f"DIALER_TEMPLATE_MODEL {config.template_model!r} is not a mapped "
            "AbstractDialerTemplate subclass"
        )
    runtime = DialerRuntime(
        config=config, backend=backend_class(config), template_model=template_model
    )
    install(app, EXTENSION_KEY, runtime)
    if config.sender_backend == "daktela" and not config.daktela.webhook_secrets:
        logger.warning("DAKTELA_WEBHOOK_SECRETS is not set: every call to /webhooks/daktela is refused "
                       "and call results arrive only through the poller")
    return runtime


def dialer_runtime() -> DialerRuntime:
    return installed(EXTENSION_KEY)


def dialer_config() -> Config:
    return dialer_runtime().config


def current_backend() -> DialerBackend:
    return dialer_runtime().backend


def template_model() -> type[AbstractDialerTemplate]:
    return dialer_runtime().template_model


def now() -> datetime:
    """The dialer's clock: aware UTC."""
    return dialer_runtime().clock()


def set_clock(app: Flask, clock: Callable[[], datetime]) -> None:
    """Make `clock` the dialer's "now" on `app` (tests and benchmarks)."""
    with app.app_context():
        install(app, EXTENSION_KEY, replace(dialer_runtime(), clock=clock))
