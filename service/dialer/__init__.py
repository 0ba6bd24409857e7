"""Business logic of the dialer: sending, templates, reading messages."""
from service.dialer.sending import send, send_template

__all__ = ["send", "send_template"]
