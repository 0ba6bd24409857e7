"""Business logic of the dialer: sending, templates, reading messages."""
from service.dialer.sending import send
from service.dialer.templates import send_template
from service.dialer.timing.cancel import cancel

__all__ = ["cancel", "send", "send_template"]
