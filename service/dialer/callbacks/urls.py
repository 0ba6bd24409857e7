"""Callback URLs that cannot be turned against our own network (SSRF).

A URL is checked when it is saved (scheme, no credentials, every address its host resolves
to) and again at every connection the dispatcher opens: the guarded connection resolves the
name itself, refuses a forbidden address and connects to the address it checked, so a DNS
answer that changes after the URL was saved cannot point a callback at the inside.
"""
from __future__ import annotations

import ipaddress
import socket
from typing import Optional
from urllib.parse import urlsplit

from urllib3.connection import HTTPConnection
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError
from urllib3.util import connection

from service.models.callback import MAX_URL_LENGTH

# Addresses no callback may reach: the cloud metadata services are link-local or private
# already, named here so that the refusal says what was meant.
METADATA_ADDRESSES = frozenset({ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")})


class UnsafeURLError(ValueError):
    """The URL breaks a rule; the message names the rule and is safe to show."""


def forbidden_reason(address: str) -> Optional[str]:
    """Why a callback must not connect to `address` (an IP literal), or None."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip in METADATA_ADDRESSES:
        return "a cloud metadata address"
    for kind, test in (("a loopback", ip.is_loopback), ("an unspecified", ip.is_unspecified),
                       ("a link-local", ip.is_link_local), ("a multicast", ip.is_multicast),
                       ("a private", ip.is_private), ("a reserved", ip.is_reserved)):
        if test:
            return f"{kind} address"
    return None


def resolve_allowed(host: str, port: int) -> list[str]:
    """The addresses `host` resolves to; UnsafeURLError if any of them is forbidden
    (socket.gaierror if the name does not resolve)."""
    addresses = []
    for *_, sockaddr in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM):
        reason = forbidden_reason(sockaddr[0])
        if reason is not None:
            raise UnsafeURLError(f"The URL's host resolves to {reason}, which callbacks may not reach.")
        addresses.append(sockaddr[0])
    return addresses


def check_callback_url(url: str, *, require_https: bool, allow_private: bool) -> str:
    """`url` if a callback may be sent to it, else UnsafeURLError naming the rule it breaks."""
    if not isinstance(url, str) or len(url) > MAX_URL_LENGTH:
        raise UnsafeURLError(f"The URL must be text of at most {MAX_URL_LENGTH} characters.")
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise UnsafeURLError("Not a valid URL.") from None
    allowed_schemes = ("https",) if require_https else ("http", "https")
    if parts.scheme not in allowed_schemes:
        raise UnsafeURLError(f"The URL must start with {' or '.join(s + '://' for s in allowed_schemes)}.")
    if not parts.hostname:
        raise UnsafeURLError("The URL must name a host.")
    if parts.username is not None or parts.password is not None:
        raise UnsafeURLError("The URL must not carry credentials: each callback is signed instead.")
    if parts.fragment:
        raise UnsafeURLError("The URL must not have a fragment.")
    if not allow_private:
        try:
            resolve_allowed(parts.hostname, port)
        except (socket.gaierror, UnicodeError):
            raise UnsafeURLError("The URL's host name does not resolve.") from None
    return url


class ForbiddenAddressError(NewConnectionError):
    """The dispatcher refused to connect: the host resolves to a forbidden address now."""


class AddressCheckingConnection(HTTPConnection):
    """A connection that resolves its host itself, refuses a forbidden address and connects to
    the address it checked."""

    def _new_conn(self) -> socket.socket:
        try:
            address = resolve_allowed(self._dns_host, self.port)[0]
        except socket.gaierror as exc:
            raise NameResolutionError(self.host, self, exc) from exc
        except (UnsafeURLError, IndexError) as exc:
            raise ForbiddenAddressError(self, f"Refused to connect: {exc}") from None
        try:
            return connection.create_connection((address, self.port), self.timeout,
                                                source_address=self.source_address,
                                                socket_options=self.socket_options)
        except socket.timeout as exc:
            raise ConnectTimeoutError(self, f"Connection to {self.host} timed out.") from exc
        except OSError as exc:
            raise NewConnectionError(self, f"Failed to establish a new connection: {exc}") from exc
