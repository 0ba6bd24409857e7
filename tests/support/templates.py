"""A custom template model, configured by DIALER_TEMPLATE_MODEL in tests."""
from service.models.template import DialerTemplate


class SlovakNumbersRefusedTemplate(DialerTemplate):
    """Shares DialerTemplate's table; refuses Slovak numbers and prefixes its body."""

    def can_send(self, recipient, context_data):
        return super().can_send(recipient, context_data) and not recipient.startswith("+421")

    def get_body(self):
        return "Notice: " + self.body
