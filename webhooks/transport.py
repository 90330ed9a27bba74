"""Sending one signed request to an endpoint, and the SSRF guard in front of it.

A webhook URL is typed by a community admin, and the server sends requests to it: without a
guard it would reach what only the server can reach (the cloud's metadata service, the database,
an admin panel on localhost). So before every request:

- the URL must be http(s) with a host and no user name or password;
- the host is resolved here (`resolve`, one place tests can patch) and *every* address it
  resolves to must be public: private, loopback, link-local, multicast, reserved, unspecified,
  shared (CGNAT) and the metadata addresses are refused, IPv4-mapped IPv6 judged as IPv4;
- the connection goes to the checked address itself (urllib3 is given the IP; the Host header
  and the TLS server name and certificate check use the URL's host), so DNS cannot answer
  differently between the check and the connection (DNS rebinding);
- no redirect is followed (a 3xx is a failed attempt), 5 s in all, and at most 1 KB of the
  response is read.

WEBHOOK_ALLOW_PRIVATE_HOSTS lists networks that may be reached anyway (a receiver inside the
same private network; tests allow 127.0.0.1). The metadata addresses are refused even then.

urllib3 directly (already installed with requests and sentry-sdk): its connection pool takes the
address to connect to apart from the host name to verify, which is exactly what pinning the
checked address needs; requests and httpx would need a custom adapter or transport for it.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

import urllib3
from django.conf import settings
from urllib3.exceptions import HTTPError as Urllib3Error

from .models import RESPONSE_EXCERPT_BYTES, URL_MAX_LENGTH

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
TIMEOUT_SECONDS = 5.0
USER_AGENT = "CommunityOS-Webhooks/1"

# Cloud metadata services: never a webhook receiver, whatever the settings allow.
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a) for a in ("169.254.169.254", "fd00:ec2::254", "100.100.100.200")
)


class UnsafeURL(ValueError):
    """The URL may not be sent to; the message says why, fit to show the admin."""


@dataclass(frozen=True)
class Target:
    """Where a request goes: the URL's parts, and the checked address to connect to."""

    scheme: str
    host: str  # as in the URL, IDNA-encoded, without brackets
    port: int
    path: str  # path and query
    address: IPAddress

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.scheme == "https" else 80
        return host if self.port == default else f"{host}:{self.port}"


@dataclass(frozen=True)
class Response:
    status: int | None  # None: no HTTP answer (refused, timed out, TLS failed...)
    duration_ms: int
    excerpt: str = ""
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def resolve(host: str, port: int) -> list[str]:
    """The addresses `host` resolves to (tests patch this to play DNS)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


def split_url(url: str) -> SplitResult:
    """The URL's parts once it passes the checks no DNS is needed for (UnsafeURL if not)."""
    url = (url or "").strip()
    if not url:
        raise UnsafeURL("Enter the URL the webhooks are sent to.")
    if len(url) > URL_MAX_LENGTH:
        raise UnsafeURL(f"A webhook URL has at most {URL_MAX_LENGTH:,} characters.")
    if any(ord(c) < 33 or ord(c) == 127 for c in url):
        raise UnsafeURL("A webhook URL cannot contain spaces or control characters.")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (raises ValueError for a port out of range)
    except ValueError as error:
        raise UnsafeURL(f"This is not a URL ({error}).") from None
    if parts.scheme not in ("http", "https"):
        raise UnsafeURL("A webhook URL starts with https:// (or http://).")
    if not parts.hostname:
        raise UnsafeURL("A webhook URL needs a host name.")
    if parts.username is not None or parts.password is not None:
        raise UnsafeURL(
            "A webhook URL cannot carry a user name or password; every request is signed "
            "instead (see the signing secret)."
        )
    if parts.fragment:
        raise UnsafeURL("A webhook URL has no #fragment: it would not be sent.")
    return parts


def _idna(host: str) -> str:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        return host
    try:
        return host.encode("idna").decode("ascii").lower()
    except UnicodeError:
        raise UnsafeURL(f"{host!r} is not a valid host name.") from None


def _allowed_networks() -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    return [
        ipaddress.ip_network(entry, strict=False)
        for entry in getattr(settings, "WEBHOOK_ALLOW_PRIVATE_HOSTS", [])
    ]


def refusal(address: IPAddress) -> str | None:
    """Why requests to `address` are refused, or None if they may go."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address in METADATA_ADDRESSES:
        return "a cloud metadata address"
    if address.is_global and not (address.is_multicast or address.is_reserved):
        return None
    if any(address in network for network in _allowed_networks()):
        return None
    for test, words in (
        ("is_loopback", "a loopback address"),
        ("is_link_local", "a link-local address"),
        ("is_multicast", "a multicast address"),
        ("is_unspecified", "the unspecified address"),
        ("is_reserved", "a reserved address"),
        ("is_private", "a private address"),
    ):
        if getattr(address, test):
            return words
    return "not a public address"


def check_url(url: str) -> Target:
    """Resolve and check the URL (UnsafeURL with the reason if it may not be sent to)."""
    parts = split_url(url)
    host = _idna(parts.hostname or "")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        found = resolve(host, port)
    except (OSError, UnicodeError):
        raise UnsafeURL(f"The host {host} could not be found.") from None
    addresses = []
    for text in found:
        try:
            addresses.append(ipaddress.ip_address(text.split("%")[0]))
        except ValueError:
            continue
    if not addresses:
        raise UnsafeURL(f"The host {host} could not be found.")
    for address in addresses:
        if reason := refusal(address):
            raise UnsafeURL(
                f"{host} resolves to {address}, {reason}: webhooks are only sent to public "
                "addresses."
            )
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    return Target(parts.scheme, host, port, path, addresses[0])


def post(url: str, body: bytes, headers: dict[str, str]) -> Response:
    """POST `body` to `url` once: checked, pinned, bounded. Never raises for the network."""
    started = time.monotonic()

    def elapsed() -> int:
        return round((time.monotonic() - started) * 1000)

    try:
        target = check_url(url)
    except UnsafeURL as error:
        return Response(None, elapsed(), error=str(error))
    options: dict = {
        "host": str(target.address),
        "port": target.port,
        # 5 s in all to connect and get the answer's headers (urllib3 gives the read what the
        # connection left); the body's excerpt is read within the same deadline.
        "timeout": urllib3.Timeout(total=TIMEOUT_SECONDS),
        "retries": False,
        "maxsize": 1,
    }
    pool_class: type[urllib3.HTTPConnectionPool] = urllib3.HTTPConnectionPool
    if target.scheme == "https":
        pool_class = urllib3.HTTPSConnectionPool
        options |= {
            "server_hostname": target.host,
            "assert_hostname": target.host,
            "cert_reqs": "CERT_REQUIRED",
        }
    sent = {
        **headers,
        "Host": target.host_header,
        "User-Agent": USER_AGENT,
        "Content-Type": "application/json",
        "Accept-Encoding": "identity",
    }
    try:
        with pool_class(**options) as pool:
            response = pool.urlopen(
                "POST",
                target.path,
                body=body,
                headers=sent,
                redirect=False,
                retries=False,
                assert_same_host=False,
                preload_content=False,
                decode_content=False,
            )
            try:
                excerpt = _read_bounded(response, started)
            finally:
                response.release_conn()
                response.close()
    except (Urllib3Error, OSError) as error:
        return Response(None, elapsed(), error=_describe(error))
    return Response(response.status, elapsed(), excerpt=excerpt)


def _read_bounded(response: urllib3.BaseHTTPResponse, started: float) -> str:
    """At most RESPONSE_EXCERPT_BYTES of the body, and nothing past the time limit."""
    chunks: list[bytes] = []
    size = 0
    while size < RESPONSE_EXCERPT_BYTES and time.monotonic() - started < TIMEOUT_SECONDS:
        chunk = response.read(min(256, RESPONSE_EXCERPT_BYTES - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks).decode("utf-8", errors="replace")


def _describe(error: BaseException) -> str:
    """A short reason for the delivery log ("Connection refused", "Timed out after 5 s")."""
    reason = getattr(error, "reason", None) or error
    text = str(reason)
    # Before the timeout test: urllib3's NewConnectionError is a ConnectTimeoutError too.
    if "refused" in text.lower():
        return "Connection refused."
    if isinstance(reason, urllib3.exceptions.SSLError):
        return f"TLS failed: {text}"[:500]
    if isinstance(reason, urllib3.exceptions.TimeoutError) or "timed out" in text.lower():
        return f"Timed out after {TIMEOUT_SECONDS:g} s."
    return f"{type(reason).__name__}: {text}"[:500]
