"""Which addresses a URL may lead the service to: public ones only.

A server that fetches URLs for its callers is a server-side request forgery target:
a caller names ``http://169.254.169.254/latest/meta-data/`` (a cloud's metadata
service, with credentials), ``http://localhost:6379/`` or ``http://10.0.0.5/admin``
and the server, inside the network, fetches it for them. So ``url`` inputs are
refused unless the server runs with ``--allow-url``, and even then every connection
a fetch makes, to the first host and to every redirect's, goes to a public address
only: loopback, private, link-local (the metadata address among them), shared
(100.64/10), multicast, reserved and unspecified addresses are refused, as is any
address that ``ipaddress`` does not call global, and IPv4 addresses inside IPv6
ones (``::ffff:10.0.0.1``, 6to4, Teredo) are judged by the IPv4 address.

How: the check sits where connections are made. :class:`PolicyTransport` is the
fetcher's own transport (:class:`~summarizer.deadline.DeadlineTransport`, so the
fetch keeps its deadline) with one more layer on its connection pool's network
backend: each connection resolves the host name once, checks every address it
resolves to (a name with any refused address is refused as a whole: which one a
connection would use is not ours to guess), and then connects to the checked address
itself. Redirects are followed by httpx as before, and every hop is a new connection
through the same check. :func:`summarizer.inputs.fetch.transport_for_fetches` hands
the transport to the fetches a request makes, so the fetching code is the CLI's.

DNS rebinding, a name that resolves to a public address when checked and to a
private one when connected, cannot get through: the name is resolved once per
connection and the socket is opened to the address that was checked, never by name
again. TLS still verifies the certificate against the host name (httpcore passes it
as the server name). The environment's proxies (``HTTPS_PROXY``) are not used for
these fetches: a proxy would resolve and connect on our behalf, past the check.

``resolve`` and ``trusted`` are seams: tests resolve made-up host names to 127.0.0.1
and trust that one address (tests can reach nothing else), so that "a public page
that redirects to a private address" can be tested on one machine.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import httpcore

from summarizer.deadline import DeadlineTransport
from summarizer.errors import UrlRefusedError

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], list[str]]
METADATA = ipaddress.ip_address("169.254.169.254")


def system_resolver(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to, in the system's order."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _embedded_ipv4(ip: Address) -> ipaddress.IPv4Address | None:
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return ip.ipv4_mapped
        if ip.sixtofour is not None:
            return ip.sixtofour
        if ip.teredo is not None:
            return ip.teredo[1]
    return None


_KINDS: tuple[tuple[str, Callable[[Address], bool]], ...] = (
    ("the cloud metadata address", lambda ip: ip == METADATA),
    ("a loopback address", lambda ip: ip.is_loopback),
    ("a link-local address", lambda ip: ip.is_link_local),
    ("a multicast address", lambda ip: ip.is_multicast),
    ("an unspecified address", lambda ip: ip.is_unspecified),
    ("a reserved address", lambda ip: ip.is_reserved),
    ("a private address", lambda ip: ip.is_private),
    ("not a public address", lambda ip: not ip.is_global),
)


@dataclass(frozen=True)
class UrlPolicy:
    """Public addresses only; see the module docstring. ``trusted`` networks are
    treated as public (tests; an operator's own news mirror)."""

    resolve: Resolver = system_resolver
    trusted: tuple[Network, ...] = ()

    def refusal(self, address: str) -> str | None:
        """Why ``address`` is refused ("a private address"), or None when it may be
        connected to."""
        ip = ipaddress.ip_address(address.split("%", 1)[0])  # no IPv6 zone
        if any(ip in net for net in self.trusted):
            return None
        embedded = _embedded_ipv4(ip)
        for candidate in (ip,) if embedded is None else (embedded, ip):
            for kind, test in _KINDS:
                if test(candidate):
                    return kind
        return None

    def addresses(self, host: str, port: int) -> list[str]:
        """The addresses to connect to for ``host``, each checked; raises
        :class:`UrlRefusedError` when any is refused."""
        try:
            found = self.resolve(host, port)
        except (OSError, UnicodeError) as e:
            raise httpcore.ConnectError(f"{host} does not resolve ({e})") from e
        if not found:
            raise httpcore.ConnectError(f"{host} does not resolve")
        for address in found:
            reason = self.refusal(address)
            if reason is not None:
                where = address if host == address else f"{host} ({address})"
                raise UrlRefusedError(
                    f"refused to connect to {where}: {reason}; this service fetches "
                    "public addresses only"
                )
        return found

    def transport(self) -> PolicyTransport:
        """A new transport for one fetch (the fetch closes it)."""
        return PolicyTransport(self)


class _CheckedBackend(httpcore.NetworkBackend):
    """Connects only to checked addresses; see the module docstring."""

    def __init__(self, inner: httpcore.NetworkBackend, policy: UrlPolicy) -> None:
        self._inner = inner
        self._policy = policy

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        failure: Exception | None = None
        connect = self._inner.connect_tcp
        for address in self._policy.addresses(host, port):
            try:
                return connect(address, port, timeout, local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as e:
                failure = e
        assert failure is not None  # addresses() returns at least one
        raise failure

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        raise UrlRefusedError("refused to connect to a Unix socket")

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


class PolicyTransport(DeadlineTransport):
    """The URL fetcher's transport, connecting only where ``policy`` allows."""

    def __init__(self, policy: UrlPolicy, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        pool = getattr(self, "_pool", None)
        backend = getattr(pool, "_network_backend", None)
        if not isinstance(backend, httpcore.NetworkBackend):
            # Fail closed: without the check, no URL is fetched at all.
            raise UrlRefusedError(
                "URL inputs are unavailable: this httpx keeps its connection pool elsewhere, "
                "so the addresses a fetch connects to cannot be checked"
            )
        pool._network_backend = _CheckedBackend(backend, policy)  # type: ignore[union-attr]
