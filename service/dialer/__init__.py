"""Business logic of the dialer: sending, templates, reading messages."""
from service.dialer.sending import send
from service.dialer.templates import send_template

__all__ = ["send", "send_template"]
