"""Identity binding against real servers on loopback: HTTP(S) and DNS, honest and hostile.

HTTP: one ``ThreadingHTTPServer`` on 127.0.0.1 (port 0) serves every fake domain under a path
prefix, so ``http://127.0.0.1:PORT/<domain>/.well-known/endorsement-keys.txt`` is that domain's
file and ``base_url_for`` maps a domain to ``http://127.0.0.1:PORT/<domain>`` (the CLI's hidden
``--well-known-base`` does the same). Each domain has a behaviour: a file, a status, a redirect,
an oversized or endless body, a server that never answers or trickles, a broken response.

DNS: one server on 127.0.0.1 (UDP, and TCP on the same port for truncated answers), built with
dnspython's message API, answers TXT queries for ``_endorsement.<domain>`` from a table; unknown
names get NXDOMAIN. Some names are hostile (silence, garbage, a wrong message id).

Every server loop is bounded in time and bytes and stops at teardown. Nothing leaves loopback.
"""

from __future__ import annotations

import contextlib
import datetime
import http.server
import json
import select
import socket
import ssl
import struct
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rdtypes.ANY.TXT
import dns.rrset
import pytest
from cli.main import cli
from click.testing import CliRunner, Result

import ledger
from helpers import LOG_KEY, ORIGIN, STATEMENT, T0, seeded_key
from ledger.binding import (
    MAX_BODY,
    WELL_KNOWN_PATH,
    Evidence,
    apply_evidence,
    evidence_for,
    evidence_from_json,
    format_txt_value,
    format_well_known_file,
    key_published,
)
from ledger.binding_fetch import check_bindings, fetch_txt, fetch_well_known
from ledger.binding_store import load_evidence

T_FETCH = 1_700_000_000  # 2023-11-14T22:13:20Z
SERVER_LIMIT_S = 20.0  # no server loop runs longer than this
SERVER_LIMIT_BYTES = 8 * 1024 * 1024  # nor sends more than this
# A fetch that ends before this ended because of its own deadline or cap, not the server's limit
# (generous, for loaded machines).
LATE = 6.0


def key(domain: str) -> ledger.VerifyingKey:
    return seeded_key(domain).public


def wk_file(*domains: str) -> bytes:
    return format_well_known_file([key(d) for d in domains]).encode()


def txt(domain: str) -> list[bytes]:
    return [format_txt_value(key(domain)).encode()]


# --- the HTTP server ---------------------------------------------------------------------------

Behaviour = Callable[["Handler"], None]


def serve(body: bytes, status: int = 200, content_type: str = "text/plain") -> Behaviour:
    def behave(h: Handler) -> None:
        h.send_response(status)
        h.send_header("Content-Type", content_type)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)

    return behave


def redirect(location: str, status: int = 302) -> Behaviour:
    def behave(h: Handler) -> None:
        h.send_response(status)
        h.send_header("Location", location)
        h.send_header("Content-Length", "0")
        h.end_headers()

    return behave


def endless(*, chunked: bool) -> Behaviour:
    def behave(h: Handler) -> None:
        if chunked:
            h.protocol_version = "HTTP/1.1"
        h.send_response(200)
        h.send_header("Content-Type", "text/plain")
        if chunked:
            h.send_header("Transfer-Encoding", "chunked")
        h.end_headers()
        piece = b"# the end is not near\n" * 372  # 8,184 bytes
        sent, started = 0, time.monotonic()
        with contextlib.suppress(OSError):
            while sent < SERVER_LIMIT_BYTES and time.monotonic() - started < SERVER_LIMIT_S:
                if h.server.stop.is_set():
                    break
                data = b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece
                h.wfile.write(data)
                sent += len(piece)

    return behave


def never_answers(h: Handler) -> None:
    h.server.stop.wait(SERVER_LIMIT_S)


def trickle(h: Handler) -> None:
    h.send_response(200)
    h.send_header("Content-Type", "text/plain")
    h.end_headers()
    started = time.monotonic()
    with contextlib.suppress(OSError):
        while time.monotonic() - started < SERVER_LIMIT_S and not h.server.stop.wait(0.05):
            h.wfile.write(b"#")
            h.wfile.flush()


def short_body(h: Handler) -> None:
    h.send_response(200)
    h.send_header("Content-Length", "1000")
    h.end_headers()
    h.wfile.write(b"# only a hundred bytes\n".ljust(100, b"#"))


def not_http(h: Handler) -> None:
    h.wfile.write(b"SSH-2.0-OpenSSH_9.6\r\n\r\n")


def many_headers(h: Handler) -> None:
    h.send_response(200)
    for number in range(150):
        h.send_header(f"X-Header-{number}", "x")
    h.end_headers()


BIG = (key("big.example").to_text() + "\n").encode() + b"# padding\n" * 10_000  # ~100 KiB

SITES: dict[str, Behaviour] = {
    "wk.example": serve(wk_file("wk.example")),
    "both.example": serve(wk_file("both.example")),
    "wrong.example": serve(wk_file("someone-else.example")),
    "elsewhere.example": serve(wk_file("elsewhere.example", "six.example")),
    "shared.example": serve(wk_file("shared.example")),
    "crlf.example": serve(
        b"# keys\r\n\r\n" + key("crlf.example").to_text().encode() + b"\r\n",
        content_type="application/octet-stream",
    ),
    "big.example": serve(BIG),
    "endless.example": endless(chunked=False),
    "endless-chunked.example": endless(chunked=True),
    "never.example": never_answers,
    "trickle.example": trickle,
    "slow.example": never_answers,
    "redirect-away.example": redirect(
        "http://evil.invalid/.well-known/endorsement-keys.txt", status=302
    ),
    "redirect-same.example": redirect(f"/wk.example{WELL_KNOWN_PATH}", status=301),
    "badutf8.example": serve(b"# caf\xe9\n" + wk_file("badutf8.example")),
    "short.example": short_body,
    "error.example": serve(b"oops\n", status=500),
    "nothttp.example": not_http,
    "headers.example": many_headers,
}


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    # The default listen backlog (5) drops connections when the check runs 8 fetches at once;
    # the dropped SYN is retried after 1 s, as long as the tests' whole timeout.
    request_queue_size = 64

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.stop = threading.Event()
        self.requests: list[str] = []


class Handler(http.server.BaseHTTPRequestHandler):
    server: Server

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        self.server.requests.append(self.path)
        domain, _, rest = self.path.removeprefix("/").partition("/")
        behaviour = SITES.get(domain)
        if behaviour is None or f"/{rest}" != WELL_KNOWN_PATH:
            serve(b"not found\n", status=404)(self)
        else:
            behaviour(self)


@contextlib.contextmanager
def running(server: http.server.HTTPServer, stop: threading.Event) -> Iterator[None]:
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield
    finally:
        stop.set()
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture(scope="module")
def web() -> Iterator[Server]:
    server = Server()
    with running(server, server.stop):
        yield server


def base_of(web: Server) -> Callable[[str], str]:
    port = web.server_address[1]
    return lambda domain: f"http://127.0.0.1:{port}/{domain}"


# --- the DNS server ----------------------------------------------------------------------------

# name -> TXT records (each a list of strings), or a behaviour word, or ("cname", target).
ZONE: dict[str, object] = {
    "_endorsement.txt.example": [txt("txt.example")],
    "_endorsement.both.example": [[b"v=spf1 -all"], txt("both.example")],
    "_endorsement.wrong.example": [txt("someone-else.example")],
    "_endorsement.split.example": [
        [
            format_txt_value(key("split.example")).encode()[:13],
            format_txt_value(key("split.example")).encode()[13:30],
            format_txt_value(key("split.example")).encode()[30:],
        ]
    ],
    "_endorsement.alias.example": ("cname", "_endorsement.target.example"),
    "_endorsement.target.example": [txt("alias.example")],
    "_endorsement.big-answer.example": ("truncate", [txt("big-answer.example")]),
    "_endorsement.empty.example": [],
    "_endorsement.slow.example": "silent",
    "_endorsement.silent.example": "silent",
    "_endorsement.garbage.example": "garbage",
    "_endorsement.wrong-id.example": "wrong-id",
    "_endorsement.servfail.example": "servfail",
}


class DnsServer:
    """A tiny authoritative-looking server for ZONE, on UDP and TCP 127.0.0.1:port."""

    def __init__(self) -> None:
        self.stop = threading.Event()
        self.queries: list[tuple[str, str]] = []
        for _ in range(20):  # the TCP port must be free too; pick another UDP port if not
            self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self.udp.bind(("127.0.0.1", 0))
            self.port = self.udp.getsockname()[1]
            self.tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            try:
                self.tcp.bind(("127.0.0.1", self.port))
                break
            except OSError:
                self.udp.close()
                self.tcp.close()
        self.tcp.listen(8)
        self.threads = [
            threading.Thread(target=self._serve_udp, daemon=True),
            threading.Thread(target=self._serve_tcp, daemon=True),
        ]
        for thread in self.threads:
            thread.start()

    def close(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(5)
        self.udp.close()
        self.tcp.close()

    def _serve_udp(self) -> None:
        while not self.stop.is_set():
            ready, _, _ = select.select([self.udp], [], [], 0.05)
            if not ready:
                continue
            data, peer = self.udp.recvfrom(65_535)
            reply = self.answer(data, tcp=False)
            if reply is not None:
                self.udp.sendto(reply, peer)

    def _serve_tcp(self) -> None:
        while not self.stop.is_set():
            ready, _, _ = select.select([self.tcp], [], [], 0.05)
            if not ready:
                continue
            connection, _ = self.tcp.accept()
            with connection:
                connection.settimeout(2)
                with contextlib.suppress(OSError, struct.error):
                    (length,) = struct.unpack("!H", connection.recv(2))
                    data = b""
                    while len(data) < length:
                        data += connection.recv(length - len(data)) or b"\0"
                    reply = self.answer(data, tcp=True)
                    if reply is not None:
                        connection.sendall(struct.pack("!H", len(reply)) + reply)

    def answer(self, wire: bytes, *, tcp: bool) -> bytes | None:
        query = dns.message.from_wire(wire)
        question = query.question[0]
        name = question.name.to_text(omit_final_dot=True).lower()
        self.queries.append((name, "tcp" if tcp else "udp"))
        entry = ZONE.get(name)
        response = dns.message.make_response(query)
        if entry == "silent":
            return None
        if entry == "garbage":
            return wire[:2] + b"\x81\x80 this is not a DNS message"
        if entry == "wrong-id":
            response.id ^= 0x5A5A
        elif entry == "servfail":
            response.set_rcode(dns.rcode.SERVFAIL)
        elif entry is None:
            response.set_rcode(dns.rcode.NXDOMAIN)
        elif isinstance(entry, tuple) and entry[0] == "cname":
            target = str(entry[1])
            response.answer.append(
                dns.rrset.from_text(question.name, 300, "IN", "CNAME", target + ".")
            )
            response.answer.append(_txt_rrset(target + ".", ZONE[target]))
        elif isinstance(entry, tuple) and entry[0] == "truncate":
            if tcp:
                response.answer.append(_txt_rrset(question.name, entry[1]))
            else:
                response.flags |= dns.flags.TC
        elif entry:
            response.answer.append(_txt_rrset(question.name, entry))
        return response.to_wire()


def _txt_rrset(name: dns.name.Name | str, records: object) -> dns.rrset.RRset:
    assert isinstance(records, list)
    rdatas = [
        dns.rdtypes.ANY.TXT.TXT(dns.rdataclass.IN, dns.rdatatype.TXT, strings)
        for strings in records
    ]
    return dns.rrset.from_rdata_list(name, 300, rdatas)


@pytest.fixture(scope="module")
def dns_server() -> Iterator[DnsServer]:
    server = DnsServer()
    try:
        yield server
    finally:
        server.close()


def ns(server: DnsServer) -> tuple[str, int]:
    return ("127.0.0.1", server.port)


# --- fetching the well-known file ------------------------------------------------------------


def wk(web: Server, domain: str, timeout: float = 2.0) -> Evidence:
    fetched = fetch_well_known(
        domain, timeout=timeout, base_url=base_of(web)(domain), clock=lambda: T_FETCH
    )
    return evidence_for(fetched, method="well-known", domain=domain, public_key=key(domain).raw)


def test_well_known_file_is_fetched_and_recorded(web: Server) -> None:
    record = wk(web, "wk.example")
    port = web.server_address[1]
    assert record.url == f"http://127.0.0.1:{port}/wk.example/.well-known/endorsement-keys.txt"
    assert record.server == f"127.0.0.1:{port}"
    assert record.status == 200
    assert record.body == wk_file("wk.example")
    assert record.fetched_at == T_FETCH
    assert (record.complete, record.truncated, record.found, record.error) == (
        True,
        False,
        True,
        None,
    )
    assert key_published(record)


def test_any_content_type_and_crlf_are_accepted(web: Server) -> None:
    assert wk(web, "crlf.example").found


def test_wrong_key_published(web: Server) -> None:
    record = wk(web, "wrong.example")
    assert record.complete
    assert not record.found
    assert record.error is None


def test_not_found(web: Server) -> None:
    record = wk(web, "none.example")
    assert record.status == 404
    assert record.complete
    assert record.error == "HTTP status 404"


def test_server_error_is_recorded(web: Server) -> None:
    record = wk(web, "error.example")
    assert record.status == 500
    assert record.body == b"oops\n"
    assert record.error == "HTTP status 500"


def test_oversized_body_is_cut_at_the_cap_and_recorded(web: Server) -> None:
    record = wk(web, "big.example")
    assert len(BIG) > MAX_BODY
    assert record.body == BIG[:MAX_BODY]
    assert record.truncated
    assert not record.complete
    assert not record.found  # the key is in the first line, but a cut file proves nothing
    assert record.error == "the body is larger than 65536 bytes; cut at 65536"


@pytest.mark.parametrize("domain", ["endless.example", "endless-chunked.example"])
def test_endless_body_is_cut(web: Server, domain: str) -> None:
    started = time.monotonic()
    record = wk(web, domain)
    assert time.monotonic() - started < LATE
    assert len(record.body) == MAX_BODY
    assert record.body.startswith(b"# the end is not near\n")
    assert record.truncated
    assert not record.found


def test_server_that_never_answers_times_out(web: Server) -> None:
    started = time.monotonic()
    record = wk(web, "never.example", timeout=0.5)
    assert time.monotonic() - started < LATE
    assert record.status is None
    assert record.error == "timed out after 0.5 s"
    assert not record.complete


def test_trickling_server_hits_the_deadline(web: Server) -> None:
    # One byte every 50 ms never trips a per-read timeout; the whole-fetch deadline stops it.
    started = time.monotonic()
    record = wk(web, "trickle.example", timeout=0.8)
    elapsed = time.monotonic() - started
    assert 0.7 < elapsed < LATE
    assert record.status == 200
    assert record.error == "timed out after 0.8 s"
    assert not record.complete
    assert record.body.startswith(b"#")
    assert set(record.body) == {ord("#")}


def test_redirect_to_another_host_is_refused(web: Server) -> None:
    before = len(web.requests)
    record = wk(web, "redirect-away.example")
    assert web.requests[before:] == [f"/redirect-away.example{WELL_KNOWN_PATH}"]
    assert record.status == 302
    assert record.error is not None
    assert "redirect to http://evil.invalid/.well-known/endorsement-keys.txt not followed" in (
        record.error
    )
    assert not record.found


def test_redirect_on_the_same_host_is_refused_too(web: Server) -> None:
    before = len(web.requests)
    record = wk(web, "redirect-same.example")
    assert len(web.requests) == before + 1
    assert record.status == 301
    assert "not followed" in (record.error or "")


def test_invalid_utf8_is_recorded(web: Server) -> None:
    record = wk(web, "badutf8.example")
    assert record.complete
    assert record.body.startswith(b"# caf\xe9\n")
    assert not record.found
    assert record.error == "the file is not UTF-8 (invalid byte at offset 5)"


def test_short_body_is_incomplete(web: Server) -> None:
    record = wk(web, "short.example")
    assert not record.complete
    assert len(record.body) == 100
    assert record.error == "malformed HTTP response (IncompleteRead)"


@pytest.mark.parametrize("domain", ["nothttp.example", "headers.example"])
def test_broken_http_is_recorded(web: Server, domain: str) -> None:
    record = wk(web, domain)
    assert not record.complete
    assert (record.error or "").startswith("malformed HTTP response")


def test_connection_refused_is_recorded() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    fetched = fetch_well_known("x.example", base_url=f"http://127.0.0.1:{port}", timeout=1)
    assert fetched.server is None
    assert (fetched.error or "").startswith("connection failed")


def test_plain_http_needs_an_explicit_override() -> None:
    with pytest.raises(ledger.UsageError):
        fetch_well_known("x.example", base_url="ftp://127.0.0.1/")
    with pytest.raises(ledger.UsageError):
        fetch_well_known("x.example", base_url="http://127.0.0.1/?q=1")
    with pytest.raises(ledger.UsageError):
        fetch_well_known("x.example", timeout=0)


# --- HTTPS, with a certificate made here -----------------------------------------------------


@pytest.fixture(scope="module")
def tls_web(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, bytes]]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    secret = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(secret.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(secret, hashes.SHA256())
    )
    directory = tmp_path_factory.mktemp("tls")
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    (directory / "cert.pem").write_bytes(cert_pem)
    (directory / "key.pem").write_bytes(
        secret.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(directory / "cert.pem", directory / "key.pem")
    server = Server()
    server.socket = context.wrap_socket(server.socket, server_side=True)
    with running(server, server.stop):
        yield server, cert_pem


def test_tls_handshake_that_never_completes_times_out() -> None:
    # A listener that never accepts: the kernel completes TCP, nobody answers the ClientHello.
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = listener.getsockname()[1]
        started = time.monotonic()
        fetched = fetch_well_known(
            "x.example", base_url=f"https://localhost:{port}/x.example", timeout=0.5
        )
    assert time.monotonic() - started < LATE
    assert fetched.error == "timed out after 0.5 s"
    assert fetched.status is None


def test_https_with_a_trusted_certificate(tls_web: tuple[Server, bytes]) -> None:
    server, cert_pem = tls_web
    context = ssl.create_default_context(cadata=cert_pem.decode())
    port = server.server_address[1]
    fetched = fetch_well_known(
        "wk.example", base_url=f"https://localhost:{port}/wk.example", context=context, timeout=2
    )
    assert fetched.error is None, fetched.error
    assert fetched.status == 200
    assert fetched.body == wk_file("wk.example")


def test_https_with_an_untrusted_certificate_is_refused(tls_web: tuple[Server, bytes]) -> None:
    server, _ = tls_web
    port = server.server_address[1]
    fetched = fetch_well_known("wk.example", base_url=f"https://localhost:{port}/wk.example")
    assert fetched.status is None
    assert fetched.server == f"127.0.0.1:{port}"
    assert (fetched.error or "").startswith("TLS certificate not accepted")
    assert fetched.body == b""


# --- DNS -------------------------------------------------------------------------------------


def dns_record(server: DnsServer, domain: str, timeout: float = 2.0) -> Evidence:
    fetched = fetch_txt(domain, timeout=timeout, nameserver=ns(server), clock=lambda: T_FETCH)
    return evidence_for(fetched, method="dns-txt", domain=domain, public_key=key(domain).raw)


def test_txt_record_is_fetched_and_recorded(dns_server: DnsServer) -> None:
    record = dns_record(dns_server, "txt.example")
    assert record.url == "_endorsement.txt.example"
    assert record.server == f"127.0.0.1:{dns_server.port}"
    assert record.status == 0
    assert record.body == b'"' + format_txt_value(key("txt.example")).encode() + b'"\n'
    assert record.found
    assert record.error is None


def test_txt_record_split_into_strings_is_joined(dns_server: DnsServer) -> None:
    record = dns_record(dns_server, "split.example")
    assert record.body.count(b'" "') == 2  # three strings, as received
    assert record.found


def test_txt_among_other_records(dns_server: DnsServer) -> None:
    record = dns_record(dns_server, "both.example")
    assert b'"v=spf1 -all"\n' in record.body.splitlines(keepends=True)
    assert len(record.body.splitlines()) == 2
    assert record.found


def test_cname_is_followed(dns_server: DnsServer) -> None:
    assert dns_record(dns_server, "alias.example").found


def test_truncated_answer_is_retried_over_tcp(dns_server: DnsServer) -> None:
    record = dns_record(dns_server, "big-answer.example")
    assert record.found
    assert ("_endorsement.big-answer.example", "tcp") in dns_server.queries


def test_nxdomain(dns_server: DnsServer) -> None:
    record = dns_record(dns_server, "none.example")
    assert record.status == 3
    assert record.complete
    assert record.body == b""
    assert record.error == "DNS answer NXDOMAIN"


def test_name_without_txt_records(dns_server: DnsServer) -> None:
    record = dns_record(dns_server, "empty.example")
    assert (record.status, record.body, record.found, record.error) == (0, b"", False, None)


def test_wrong_key_in_dns(dns_server: DnsServer) -> None:
    record = dns_record(dns_server, "wrong.example")
    assert record.complete
    assert not record.found


def test_servfail(dns_server: DnsServer) -> None:
    record = dns_record(dns_server, "servfail.example")
    assert record.status == 2
    assert record.error == "DNS answer SERVFAIL"


@pytest.mark.parametrize("domain", ["silent.example", "wrong-id.example", "garbage.example"])
def test_dns_silence_and_spoofs_time_out(dns_server: DnsServer, domain: str) -> None:
    # A reply that is not an answer to our query (wrong id, not DNS) is ignored, as a stub
    # resolver does, so an off-path spoof cannot cut a query short: the query times out.
    started = time.monotonic()
    record = dns_record(dns_server, domain, timeout=0.5)
    assert time.monotonic() - started < LATE
    assert record.status is None
    assert record.error == "timed out after 0.5 s"


# --- the campaign's check of a real small ledger ---------------------------------------------

# seq -> domain the signatory gave (None: no domain).
SIGNATORIES: dict[int, str | None] = {
    1: "wk.example",  # well-known only
    2: "txt.example",  # TXT only
    3: "both.example",  # both
    4: "none.example",  # neither
    5: "wrong.example",  # another key published, both ways
    6: "six.example",  # its key is published, but by elsewhere.example
    7: "elsewhere.example",  # publishes its own key and six.example's
    8: "split.example",  # TXT split into strings
    9: "alias.example",  # TXT through a CNAME
    10: "slow.example",  # nothing ever answers
    11: None,
    12: "shared.example",  # publishes 12's key ...
    13: "shared.example",  # ... and not 13's (which signs with its own key)
}
CONFIRMED = {1, 2, 3, 7, 8, 9, 12}


def signer_for(seq: int) -> ledger.SigningKey:
    domain = SIGNATORIES[seq]
    return seeded_key(f"{domain}" if domain and seq != 13 else f"org{seq}.example")


@pytest.fixture(scope="module")
def ledger_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("check") / "ledger.db"
    with ledger.Ledger.create(
        path, statement=STATEMENT, title="T", origin=ORIGIN, log_key=LOG_KEY, now=T0
    ) as book:
        for seq, domain in SIGNATORIES.items():
            cose = ledger.endorse(
                signer_for(seq), book.statement_hash, name=f"Org {seq}", signed_at=T0, domain=domain
            )
            assert book.append([(f"org{seq}", cose)], now=T0 + seq).appended == (
                (f"org{seq}", seq),
            )
    return path


@pytest.fixture(scope="module")
def checked(
    ledger_path: Path, web: Server, dns_server: DnsServer
) -> tuple[ledger.Report, tuple[Evidence, ...]]:
    report = ledger.check_ledger_file(ledger_path)
    assert report.ok
    before = list(web.requests)
    evidence = check_bindings(
        report.signatories,
        timeout=1.0,
        base_url_for=base_of(web),
        nameserver=ns(dns_server),
        clock=lambda: T_FETCH,
    )
    shared = [p for p in web.requests[len(before) :] if p.startswith("/shared.example/")]
    assert len(shared) == 1  # one fetch per domain, however many signatories name it
    return report, evidence


def test_check_records_two_fetches_per_signatory_with_a_domain(
    checked: tuple[ledger.Report, tuple[Evidence, ...]],
) -> None:
    _, evidence = checked
    with_domain = [seq for seq, domain in SIGNATORIES.items() if domain]
    assert len(evidence) == 2 * len(with_domain)
    assert [r.method for r in evidence[:2]] == ["well-known", "dns-txt"]
    assert all(r.fetched_at == T_FETCH for r in evidence)


def test_apply_evidence_confirms_exactly_the_right_signatories(
    checked: tuple[ledger.Report, tuple[Evidence, ...]],
) -> None:
    report, evidence = checked
    applied = apply_evidence(report, evidence)
    confirmed = {s.seq for s in applied.signatories if s.identity == "confirmed"}
    assert confirmed == CONFIRMED
    notes = {s.seq: s.identity_note or "" for s in applied.signatories}
    assert notes[1].startswith("key published at https://wk.example/.well-known/")
    assert "fetched from http://127.0.0.1:" in notes[1]
    assert "as fetched by the campaign on 2023-11-14T22:13:20Z" in notes[1]
    assert notes[2].startswith("key published at DNS TXT _endorsement.txt.example")
    assert notes[3].count("key published at") == 2
    assert notes[4].startswith("key not published at")
    assert notes[10] == "no usable evidence that slow.example publishes this key"
    assert notes[11] == ""


def test_tampered_evidence_does_not_confirm(
    checked: tuple[ledger.Report, tuple[Evidence, ...]],
) -> None:
    import attrs

    report, evidence = checked
    changed_body = tuple(
        attrs.evolve(r, body=r.body.replace(b"ledger-pub1", b"ledger-pub1 ")) for r in evidence
    )
    changed_sha = tuple(attrs.evolve(r, sha256=bytes(32)) for r in evidence)
    applied = apply_evidence(report, changed_body)
    # Only the DNS records, whose bodies hold no "ledger-pub1", are untouched and still count.
    assert {s.seq for s in applied.signatories if s.identity == "confirmed"} == {2, 3, 8, 9}
    applied = apply_evidence(report, changed_sha)
    assert {s.seq for s in applied.signatories if s.identity == "confirmed"} == set()
    # Evidence for org 7's domain re-labelled for org 6 (who gave six.example) does not count.
    relabelled = [
        attrs.evolve(r, public_key=key("six.example").raw)
        for r in evidence
        if r.domain == "elsewhere.example"
    ]
    applied = apply_evidence(report, relabelled)
    assert {s.seq for s in applied.signatories if s.identity == "confirmed"} == set()


def test_evidence_survives_json(checked: tuple[ledger.Report, tuple[Evidence, ...]]) -> None:
    from ledger.binding import evidence_to_json

    report, evidence = checked
    decoded = evidence_from_json(evidence_to_json(evidence))
    assert decoded == evidence
    assert apply_evidence(report, decoded) == apply_evidence(report, evidence)


# --- CLI transcripts ---------------------------------------------------------------------------


def run(*args: str | Path) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture
def cli_ledger(ledger_path: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "ledger.db"
    copy.write_bytes(ledger_path.read_bytes())
    return copy


def overrides(web: Server, dns_server: DnsServer) -> list[str]:
    return [
        "--well-known-base",
        f"http://127.0.0.1:{web.server_address[1]}",
        "--dns-server",
        f"127.0.0.1:{dns_server.port}",
        "--timeout",
        "1",
    ]


def test_cli_check_then_show(cli_ledger: Path, web: Server, dns_server: DnsServer) -> None:
    result = run("binding", "check", cli_ledger, *overrides(web, dns_server))
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("#1    Org 1 (wk.example)  key ")
    assert lines[0].endswith(": confirmed")
    assert lines[1].startswith("    well-known  http://127.0.0.1:")
    assert lines[1].endswith("HTTP 200  key found")
    assert "dns-txt     _endorsement.wk.example via 127.0.0.1:" in lines[2]
    assert lines[2].endswith("NXDOMAIN  key not found")  # the status is not said twice
    assert lines[-2] == f"recorded 24 evidence records in {cli_ledger}"
    assert lines[-1] == "7 of 12 signatories with a domain confirmed", result.stdout
    assert len(load_evidence(cli_ledger)) == 24

    result = run("binding", "show", cli_ledger)
    assert result.exit_code == 0, result.stderr
    assert "#1    Org 1 (wk.example)  key " in result.stdout
    assert "as fetched by the campaign on" in result.stdout
    assert "Evidence recorded (24 records, oldest first):" in result.stdout

    result = run("binding", "show", cli_ledger, "--json")
    document = json.loads(result.stdout)
    assert document["schema"] == "endorsement-ledger/binding-status/v1"
    assert document["verified"] is True
    confirmed = {s["entry"] for s in document["signatories"] if s["identity"] == "confirmed"}
    assert confirmed == CONFIRMED
    assert document["evidence"]["schema"] == "endorsement-ledger/evidence/v1"

    result = run("binding", "export", cli_ledger)
    assert len(evidence_from_json(result.stdout)) == 24
    # The ledger itself still verifies: evidence sits beside the entries.
    assert run("verify", cli_ledger).exit_code == 0


def test_cli_check_only_and_no_save(cli_ledger: Path, web: Server, dns_server: DnsServer) -> None:
    options = ["--only", "txt.example", "--no-save", "--json", *overrides(web, dns_server)]
    result = run("binding", "check", cli_ledger, *options)
    assert result.exit_code == 0, result.stderr
    records = evidence_from_json(result.stdout)
    assert [(r.domain, r.method, r.found) for r in records] == [
        ("txt.example", "well-known", False),
        ("txt.example", "dns-txt", True),
    ]
    assert load_evidence(cli_ledger) == ()


def test_cli_check_errors(cli_ledger: Path, web: Server, dns_server: DnsServer) -> None:
    result = run("binding", "check", cli_ledger, "--only", "nobody.example")
    assert result.exit_code == 2
    assert result.stderr.startswith(
        "ledger: error: no current signatory gave the domain nobody.example"
    )
    result = run("binding", "check", cli_ledger, "--dns-server", "localhost:53")
    assert result.exit_code == 2
    assert "is not an IP address" in result.stderr
    result = run("binding", "check", cli_ledger, "--well-known-base", "file:///etc")
    assert result.exit_code == 2
    assert "must be an http(s):// URL" in result.stderr
    result = run("binding", "check", cli_ledger.with_name("missing.db"))
    assert result.exit_code == 2
    assert load_evidence(cli_ledger) == ()
