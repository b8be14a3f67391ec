"""Fetching what organisations publish: the well-known key file and the DNS TXT record.

This is the network edge of identity binding (formats and judgement are in ``ledger.binding``).
A hostile or broken server never raises here: every failure (refused connection, TLS error,
timeout, redirect, malformed HTTP or DNS, an endless or oversized body) becomes a ``Fetch``
with an ``error``, and so an evidence record.

Rules
=====

* Well-known file: HTTPS only, certificate and host name verified with the system's trust
  store. Plain ``http://`` is possible only through an explicit base-URL override (loopback
  tests, a staging mirror), which the evidence records as the URL fetched.
* No redirect is followed, to another host or the same one: a 3xx answer is recorded with its
  ``Location`` and an error, so the evidence's URL is always where the bytes came from.
* One deadline per fetch (``timeout`` seconds, default 10) covers connecting, the headers and
  the body: a watchdog shuts the socket down when it passes, so a server that trickles bytes
  cannot hold the check. (The host-name lookup of the HTTPS host goes through the system
  resolver, which the deadline does not bound.)
* The body is read in pieces and cut at ``MAX_BODY`` (64 KiB): an endless body costs 64 KiB.
  Any content type is accepted; the content is judged by ``ledger.binding`` (UTF-8 only).
* DNS: one TXT query for ``_endorsement.<domain>`` to one resolver (the first ``nameserver``
  of ``/etc/resolv.conf``, or the one given), over UDP, retried over TCP when the answer is
  truncated; CNAMEs in the answer are followed. The resolver's answer is taken as it is: it is
  not DNSSEC-validated here.
"""

from __future__ import annotations

import contextlib
import http.client
import socket
import ssl
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from functools import partial
from typing import Final
from urllib.parse import urlsplit

import dns.exception
import dns.flags
import dns.message
import dns.nameserver
import dns.query
import dns.rcode
import dns.rdatatype
import dns.rdtypes.ANY.TXT
import dns.resolver

from ledger.binding import (
    MAX_BODY,
    METHODS,
    WELL_KNOWN_PATH,
    Evidence,
    Fetch,
    evidence_for,
    format_txt_body,
    txt_name,
    well_known_url,
)
from ledger.errors import UsageError
from ledger.findings import Signatory

__all__ = [
    "DEFAULT_TIMEOUT",
    "check_bindings",
    "fetch_txt",
    "fetch_well_known",
    "parse_nameserver",
]

DEFAULT_TIMEOUT: Final = 10.0
_MAX_NAMESERVER: Final = 64  # "[" + the longest IPv6 text (45) + "]:65535"
MAX_WORKERS: Final = 8
USER_AGENT: Final = "endorsement-ledger (key binding check)"
_READ_SIZE: Final = 16_384
_MAX_MESSAGE: Final = 200

Clock = Callable[[], float]


# ---------------------------------------------------------------------------------------------
# HTTPS


def fetch_well_known(
    domain: str,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    base_url: str | None = None,
    context: ssl.SSLContext | None = None,
    clock: Clock = time.time,
) -> Fetch:
    """Fetch ``https://<domain>/.well-known/endorsement-keys.txt``; never raises on the network.

    Args:
        domain: the organisation's domain.
        timeout: the deadline for the whole fetch, in seconds.
        base_url: instead fetch ``<base_url>/.well-known/endorsement-keys.txt`` (http or
            https; for tests and mirrors).
        context: the TLS context (default: the system's trust store, host name checked).
        clock: the wall clock for ``fetched_at``.

    Returns:
        What the fetch got, with ``error`` set when anything went wrong.

    Raises:
        FormatError: ``domain`` is not a lowercase DNS name.
        UsageError: a malformed ``base_url``, or a ``timeout`` that is not positive.
    """
    _check_timeout(timeout)
    url = well_known_url(domain) if base_url is None else _override_url(base_url)
    parts = urlsplit(url)
    fetched_at = int(clock())
    transfer = _Transfer(url=url, fetched_at=fetched_at)
    deadline = _Deadline(time.monotonic() + timeout)
    host = parts.hostname or ""
    connection: http.client.HTTPConnection
    if parts.scheme == "https":
        connection = _HTTPSConnection(
            host, parts.port, deadline, context or ssl.create_default_context()
        )
    else:
        connection = _HTTPConnection(host, parts.port, deadline)
    try:
        connection.connect()
        _get(connection, parts.path, transfer, deadline, url)
    except TimeoutError:
        transfer.fail(f"timed out after {timeout:g} s")
    except ssl.SSLCertVerificationError as exc:
        transfer.fail(f"TLS certificate not accepted: {_short(exc.verify_message or exc)}")
    except ssl.SSLError as exc:
        transfer.fail(f"TLS error: {_short(exc.reason or exc)}")
    except socket.gaierror as exc:
        transfer.fail(f"cannot resolve {host}: {_short(exc.strerror or exc)}")
    except http.client.HTTPException as exc:
        transfer.fail(f"malformed HTTP response ({type(exc).__name__})")
    except (OSError, ValueError) as exc:
        transfer.fail(f"connection failed: {_short(getattr(exc, 'strerror', None) or exc)}")
    finally:
        transfer.server = deadline.peer  # known once TCP connected, even if TLS then failed
        deadline.cancel()
        connection.close()
    # The watchdog's shutdown surfaces as whatever the blocked call saw (EOF, a reset, a TLS
    # error): name the real cause, unless a refused redirect already explains the failure.
    if deadline.passed and not transfer.complete and not transfer.redirected:
        transfer.error = f"timed out after {timeout:g} s"
    return transfer.result()


def _get(
    connection: http.client.HTTPConnection,
    path: str,
    transfer: _Transfer,
    deadline: _Deadline,
    url: str,
) -> None:
    connection.putrequest("GET", path, skip_accept_encoding=True)
    connection.putheader("Accept", "text/plain, */*;q=0.5")
    connection.putheader("Accept-Encoding", "identity")
    connection.putheader("User-Agent", USER_AGENT)
    connection.putheader("Connection", "close")
    connection.endheaders()
    response = connection.getresponse()
    transfer.status = response.status
    if 300 <= response.status < 400:
        transfer.redirected = True
        location = response.getheader("Location") or "(no Location header)"
        # Never followed: a redirect to another host would let that host speak for the
        # domain, and even a same-host redirect would make the evidence's URL not the one
        # the bytes came from.
        transfer.error = (
            f"HTTP status {response.status}: redirect to {_short(location)} not followed; "
            f"the file must be served at exactly {url}"
        )
    _read_capped(response, transfer, deadline)


def _read_capped(
    response: http.client.HTTPResponse, transfer: _Transfer, deadline: _Deadline
) -> None:
    while True:
        if deadline.passed:
            raise TimeoutError
        chunk = response.read1(min(_READ_SIZE, MAX_BODY + 1 - len(transfer.body)))
        if not chunk:
            break
        transfer.body.extend(chunk)
        if len(transfer.body) > MAX_BODY:
            del transfer.body[MAX_BODY:]
            transfer.truncated = True
            transfer.fail(f"the body is larger than {MAX_BODY} bytes; cut at {MAX_BODY}")
            return
    if deadline.passed:  # the end seen may be the watchdog's shutdown, not the server's
        raise TimeoutError
    if response.length:  # Content-Length promised more than the connection delivered
        raise http.client.IncompleteRead(bytes(transfer.body), response.length)
    transfer.complete = True


def _override_url(base_url: str) -> str:
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"well-known base URL {base_url[:80]!r} must be an http(s):// URL")
    if parts.query or parts.fragment or any(c.isspace() or ord(c) < 0x21 for c in base_url):
        raise UsageError("well-known base URL must have no query, fragment or white space")
    try:
        parts.port  # noqa: B018 -- raises ValueError for a port out of range
    except ValueError:
        raise UsageError(f"well-known base URL {base_url[:80]!r} has a bad port") from None
    return base_url.rstrip("/") + WELL_KNOWN_PATH


class _Transfer:
    """A fetch in progress; the pieces survive an exception half way."""

    def __init__(self, *, url: str, fetched_at: int) -> None:
        self.url = url
        self.fetched_at = fetched_at
        self.server: str | None = None
        self.status: int | None = None
        self.body = bytearray()
        self.complete = False
        self.truncated = False
        self.redirected = False
        self.error: str | None = None

    def fail(self, message: str) -> None:
        """Keep the first error (a refused redirect stays the reason if the read fails too)."""
        if self.error is None:
            self.error = message

    def result(self) -> Fetch:
        complete = self.complete and not self.truncated
        return Fetch(
            url=self.url,
            server=self.server,
            fetched_at=self.fetched_at,
            status=self.status,
            body=bytes(self.body),
            complete=complete,
            truncated=self.truncated,
            error=self.error,
        )


class _Deadline:
    """One deadline for a whole fetch: connecting, the TLS handshake, the headers, the body.

    ``open`` replaces ``socket.create_connection`` for the connection: it tries each address
    with the time left, then arms a timer that shuts the connected socket down when the
    deadline passes, which unblocks whatever call is waiting on it (a TLS handshake, or a read
    that a server feeds a byte at a time, never tripping a per-call timeout).
    The timer works on a duplicate of the socket's descriptor, owned here: the connection may
    close or re-wrap (TLS) its socket, and a late timer can never shut down a descriptor
    number that was closed and reused meanwhile.
    """

    def __init__(self, at: float) -> None:
        self.at = at
        self.passed = False
        self._lock = threading.Lock()
        self._cancelled = False
        self.peer: str | None = None
        self._timer: threading.Timer | None = None
        self._watched: socket.socket | None = None

    def open(
        self,
        address: tuple[str, int],
        timeout: float | None = None,
        source_address: tuple[str, int] | None = None,
    ) -> socket.socket:
        """Connect to ``address`` before the deadline (the same signature as create_connection)."""
        del timeout, source_address  # the deadline decides
        host, port = address
        error: OSError = TimeoutError()
        for family, kind, proto, _, sockaddr in socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM
        ):
            remaining = self.at - time.monotonic()
            if remaining <= 0:
                break
            sock = socket.socket(family, kind, proto)
            try:
                sock.settimeout(remaining)
                sock.connect(sockaddr)
            except OSError as exc:
                sock.close()
                error = exc
                continue
            self.peer = _peer(sock)
            self._arm(sock)
            return sock
        raise error

    def _arm(self, sock: socket.socket) -> None:
        with self._lock:
            if self._cancelled:
                return
            self._watched = sock.dup()
            self._timer = threading.Timer(max(0.0, self.at - time.monotonic()), self._fire)
            self._timer.daemon = True
            self._timer.start()

    def _fire(self) -> None:
        with self._lock:
            if self._cancelled or self._watched is None:
                return
            self.passed = True
            # OSError: the connection is already gone, so nothing is waiting on it.
            with contextlib.suppress(OSError):
                self._watched.shutdown(socket.SHUT_RDWR)

    def cancel(self) -> None:
        """Disarm the timer and release the duplicate descriptor (before closing the socket)."""
        with self._lock:
            self._cancelled = True
            if self._timer is not None:
                self._timer.cancel()
            if self._watched is not None:
                self._watched.close()
                self._watched = None


class _HTTPConnection(http.client.HTTPConnection):
    def __init__(self, host: str, port: int | None, deadline: _Deadline) -> None:
        super().__init__(host, port, timeout=max(0.001, deadline.at - time.monotonic()))
        self._create_connection = deadline.open


class _HTTPSConnection(http.client.HTTPSConnection):
    def __init__(
        self, host: str, port: int | None, deadline: _Deadline, context: ssl.SSLContext
    ) -> None:
        super().__init__(
            host, port, timeout=max(0.001, deadline.at - time.monotonic()), context=context
        )
        self._create_connection = deadline.open


def _peer(sock: socket.socket) -> str | None:
    try:
        address = sock.getpeername()
    except OSError:
        return None
    host, port = address[0], address[1]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


# ---------------------------------------------------------------------------------------------
# DNS


def parse_nameserver(text: str) -> tuple[str, int]:
    """Parse ``HOST:PORT``, ``[IPv6]:PORT``, or a bare IP address (port 53).

    Args:
        text: the resolver's address.

    Returns:
        ``(ip address, port)``.

    Raises:
        UsageError: not an IP address with an optional port in 1..65535.
    """
    if not text.isascii() or not text.isprintable() or len(text) > _MAX_NAMESERVER:
        raise UsageError(f"DNS server {text[:80]!r} must be an IP address in printable ASCII")
    host, port_text = text, "53"
    if text.startswith("["):
        host, sep, rest = text[1:].partition("]")
        if not sep or (rest and not rest.startswith(":")):
            raise UsageError(f"DNS server {text[:80]!r} must look like [::1]:5353")
        port_text = rest[1:] if rest else "53"
    elif text.count(":") == 1:
        host, _, port_text = text.partition(":")
    if not port_text.isascii() or not port_text.isdigit() or str(int(port_text)) != port_text:
        raise UsageError(f"DNS server port {port_text[:20]!r} is not a decimal number")
    port = int(port_text)
    if not 1 <= port <= 65_535:
        raise UsageError(f"DNS server port {port} is not in 1..65535")
    try:
        socket.inet_pton(socket.AF_INET6 if ":" in host else socket.AF_INET, host)
    except OSError:
        raise UsageError(f"DNS server {host[:80]!r} is not an IP address") from None
    return host, port


def fetch_txt(
    domain: str,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    nameserver: tuple[str, int] | None = None,
    clock: Clock = time.time,
) -> Fetch:
    """Query the TXT records of ``_endorsement.<domain>``; never raises on the network.

    Args:
        domain: the organisation's domain.
        timeout: the deadline for the whole query, in seconds.
        nameserver: ``(ip, port)`` of the resolver to ask (default: the first ``nameserver``
            of the system configuration).
        clock: the wall clock for ``fetched_at``.

    Returns:
        What the query got: ``status`` is the DNS rcode; ``body`` the TXT records of the
        answer in presentation form (``ledger.binding.format_txt_body``).

    Raises:
        FormatError: ``domain`` is not a lowercase DNS name.
        UsageError: a ``timeout`` that is not positive.
    """
    _check_timeout(timeout)
    name = txt_name(domain)
    fetched_at = int(clock())
    transfer = _Transfer(url=name, fetched_at=fetched_at)
    resolver = nameserver if nameserver is not None else _system_nameserver()
    if resolver is None:
        transfer.fail("no usable DNS resolver is configured on this machine")
        return transfer.result()
    host, port = resolver
    transfer.server = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    deadline = time.monotonic() + timeout
    try:
        query = dns.message.make_query(name, dns.rdatatype.TXT)
        response = dns.query.udp(
            query, host, timeout=timeout, port=port, ignore_unexpected=True, ignore_errors=True
        )
        if response.flags & dns.flags.TC:
            remaining = max(0.001, deadline - time.monotonic())
            response = dns.query.tcp(query, host, timeout=remaining, port=port)
        transfer.status = response.rcode()
        if transfer.status == dns.rcode.NOERROR:
            if not isinstance(response, dns.message.QueryMessage):
                transfer.fail("the DNS answer is not a response to a query")
                return transfer.result()
            answer = response.resolve_chaining().answer
            records = [
                rdata.strings
                for rdata in answer or ()
                if isinstance(rdata, dns.rdtypes.ANY.TXT.TXT)
            ]
            body = format_txt_body(records)
            if len(body) > MAX_BODY:
                body = body[:MAX_BODY]
                transfer.truncated = True
                transfer.fail(f"the TXT records take more than {MAX_BODY} bytes; cut")
            transfer.body.extend(body)
        transfer.complete = True
    except dns.exception.Timeout:
        transfer.fail(f"timed out after {timeout:g} s")
    except dns.exception.DNSException as exc:
        transfer.fail(f"DNS query failed ({type(exc).__name__}: {_short(exc)})")
    except (OSError, ValueError) as exc:
        transfer.fail(f"DNS query failed: {_short(getattr(exc, 'strerror', None) or exc)}")
    return transfer.result()


def _system_nameserver() -> tuple[str, int] | None:
    try:
        resolver = dns.resolver.Resolver()
    except (dns.exception.DNSException, OSError, ValueError):
        return None
    for server in resolver.nameservers:
        if isinstance(server, str):
            return server, resolver.port
        if isinstance(server, dns.nameserver.Do53Nameserver):
            return server.address, server.port
    return None


# ---------------------------------------------------------------------------------------------
# the campaign's check


def check_bindings(
    signatories: Sequence[Signatory],
    *,
    timeout: float = DEFAULT_TIMEOUT,
    base_url_for: Callable[[str], str] | None = None,
    nameserver: tuple[str, int] | None = None,
    context: ssl.SSLContext | None = None,
    workers: int = MAX_WORKERS,
    clock: Clock = time.time,
) -> tuple[Evidence, ...]:
    """Fetch both publications of every signatory's domain and judge each signatory's key.

    Each domain is fetched once per method, however many signatories name it; the fetches
    run in parallel (``workers`` at a time). Signatories without a domain are skipped.

    Args:
        signatories: the signatories to check (e.g. ``report.signatories``).
        timeout: the deadline of each fetch, in seconds.
        base_url_for: maps a domain to a base URL to fetch its well-known file from instead
            (tests, mirrors; plain http allowed only here).
        nameserver: ``(ip, port)`` of the DNS resolver (default: the system's).
        context: the TLS context (default: the system's trust store).
        workers: how many fetches run at once.
        clock: the wall clock for ``fetched_at``.

    Returns:
        Two records per signatory with a domain (well-known, then dns-txt), in the order of
        ``signatories``. Never raises on what a server does.

    Raises:
        UsageError: a bad ``timeout``, ``workers`` or ``base_url_for`` result.
    """
    _check_timeout(timeout)
    if workers < 1:
        raise UsageError("workers must be at least 1")
    domains = list(dict.fromkeys(s.domain for s in signatories if s.domain is not None))
    overrides = {d: base_url_for(d) for d in domains} if base_url_for is not None else {}
    for base in overrides.values():
        _override_url(base)  # a bad override is the caller's error, before any fetch
    fetched: dict[tuple[str, str], Future[Fetch]] = {}
    with ThreadPoolExecutor(max_workers=max(1, min(workers, 2 * len(domains)))) as pool:
        for domain in domains:
            fetched[domain, METHODS[0]] = pool.submit(
                _guarded,
                well_known_url(domain),
                clock,
                partial(
                    fetch_well_known,
                    domain,
                    timeout=timeout,
                    base_url=overrides.get(domain),
                    context=context,
                    clock=clock,
                ),
            )
            fetched[domain, METHODS[1]] = pool.submit(
                _guarded,
                txt_name(domain),
                clock,
                partial(fetch_txt, domain, timeout=timeout, nameserver=nameserver, clock=clock),
            )
    records = []
    for signatory in signatories:
        if signatory.domain is None:
            continue
        for method in METHODS:
            records.append(
                evidence_for(
                    fetched[signatory.domain, method].result(),
                    method=method,
                    domain=signatory.domain,
                    public_key=signatory.public_key,
                )
            )
    return tuple(records)


def _guarded(url: str, clock: Clock, fetch: Callable[[], Fetch]) -> Fetch:
    try:
        return fetch()
    except Exception as exc:  # noqa: BLE001 -- one fetch's bug must not lose the others' evidence
        return Fetch(
            url=url,
            server=None,
            fetched_at=int(clock()),
            status=None,
            body=b"",
            complete=False,
            truncated=False,
            error=f"internal error while fetching ({type(exc).__name__})",
        )


# ---------------------------------------------------------------------------------------------
# helpers


def _check_timeout(timeout: float) -> None:
    if not timeout > 0:
        raise UsageError(f"timeout must be a positive number of seconds, not {timeout}")


def _short(value: object) -> str:
    text = str(value)
    text = "".join(c if c.isprintable() else "?" for c in text)
    return text if len(text) <= _MAX_MESSAGE else text[:_MAX_MESSAGE] + "…"
