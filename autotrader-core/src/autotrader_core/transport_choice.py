"""Which HTTP transport a REST adapter uses: one setting, one function, for every adapter.

An adapter's settings carry ``http_transport: TransportChoice = "auto"`` and its
HTTP client is built with ``transport=make_transport(settings.http_transport,
url=settings.rest_url, broker=BROKER)``:

* ``"lean"``: :class:`~autotrader_core.lean_transport.LeanHttpTransport`, the standard-library
  keep-alive HTTP/1.1 client (the least CPU per request; no proxy support; asyncio only);
* ``"aiohttp"``: :class:`~autotrader_core.aiohttp_transport.AiohttpTransport` (the
  ``aiohttp`` extra; proxies; asyncio only);
* ``"httpx"``: ``None``, meaning httpx's own transport (proxies, HTTP/2 if installed);
* ``"auto"``: ``lean``, unless the environment routes ``url`` through a proxy, then ``httpx``.
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import Literal, get_args
from urllib.parse import urlsplit

from autotrader_core.errors import ConfigurationError
from autotrader_core.transports import HttpTransport

__all__ = ["TRANSPORT_CHOICES", "TransportChoice", "make_transport", "proxy_configured"]

TransportChoice = Literal["auto", "httpx", "aiohttp", "lean"]
"""The values of an adapter's ``http_transport`` setting."""

TRANSPORT_CHOICES: tuple[str, ...] = get_args(TransportChoice)
"""Every :data:`TransportChoice`, for validation and for running the conformance suite on each."""


def make_transport(
    choice: str, *, url: str, broker: str | None = None, extra: str = "autotrader-core[aiohttp]"
) -> HttpTransport | None:
    """The transport ``choice`` names, for requests to ``url``; ``None`` means httpx's own.

    Args:
        choice: One of :data:`TRANSPORT_CHOICES`.
        url: The REST base URL (``auto`` checks whether a proxy applies to it).
        broker: Adapter name put on the errors.
        extra: What to ``pip install`` for aiohttp, named in the error when it is missing
            (an adapter passes its own extra, e.g. ``"autotrader-binance[aiohttp]"``).

    Raises:
        ConfigurationError: an unknown choice, or ``aiohttp`` without aiohttp installed.
    """
    if choice not in TRANSPORT_CHOICES:
        raise ConfigurationError(
            f"http_transport must be one of {', '.join(TRANSPORT_CHOICES)}, got {choice!r}", broker=broker
        )
    if choice == "auto":
        # The lean transport has no proxy support: behind a proxy, httpx (which honours
        # HTTP(S)_PROXY / NO_PROXY) carries the requests instead.
        choice = "httpx" if proxy_configured(url) else "lean"
    if choice == "httpx":
        return None
    if choice == "lean":
        from autotrader_core.lean_transport import LeanHttpTransport

        return LeanHttpTransport()
    try:  # optional dependency, imported only when asked for
        module = importlib.import_module("autotrader_core.aiohttp_transport")
    except ImportError:
        raise ConfigurationError(
            f"http_transport='aiohttp' needs aiohttp: pip install '{extra}'", broker=broker
        ) from None
    transport: HttpTransport = module.AiohttpTransport()
    return transport


def proxy_configured(url: str) -> bool:
    """Whether the environment routes ``url`` through a proxy (``HTTPS_PROXY``... minus ``NO_PROXY``)."""
    parts = urlsplit(url)
    names = {f"{parts.scheme}_proxy", "all_proxy"}
    if sys.platform not in ("darwin", "win32") and not any(
        k.lower() in names and v for k, v in os.environ.items()
    ):
        # On Linux the proxy settings are these variables only: no need to load urllib.request
        # (about 25 ms of import time) to learn that there is none.
        return False
    import urllib.request  # macOS/Windows system settings, or a proxy variable is set

    proxies = urllib.request.getproxies()
    if not (proxies.get(parts.scheme) or proxies.get("all")):
        return False
    return not urllib.request.proxy_bypass(parts.hostname or "")
