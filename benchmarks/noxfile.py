"""Venue submit-path benchmarks, each in its own venv (CCXT lives here and nowhere else).

nox -f benchmarks/noxfile.py -s bench-binance    autotrader-binance (lean, aiohttp, httpx) vs CCXT
nox -f benchmarks/noxfile.py -s bench-okx        autotrader-okx vs CCXT
nox -f benchmarks/noxfile.py -s bench-coinbase   autotrader-coinbase vs CCXT
nox -f benchmarks/noxfile.py -s bench-oanda      autotrader-oanda (each transport) vs OANDA's v20 client
nox -f benchmarks/noxfile.py -s bench-binance-md book ticker frame -> price cache vs CCXT pro

(from the repository root; ``python3 dev.py -- -f benchmarks/noxfile.py -s bench-okx`` works
on a fresh machine). Arguments after ``--`` go to the benchmark, e.g. ``-- --orders 500``.
Figures, not pass/fail tests: see each venue's README.
"""

from __future__ import annotations

from pathlib import Path

import nox

HERE = Path(__file__).parent
ROOT = HERE.parent
V20_VERSION = "3.0.25.0"  # OANDA's official client, the OANDA benchmark's peer (pinned likewise)
CCXT_VERSION = "4.5.90"  # pinned: figures are comparable across runs only against the same CCXT

nox.options.default_venv_backend = "uv|virtualenv"
nox.options.sessions = []  # on demand only


def _bench(session: nox.Session, venue: str, script: str = "bench.py") -> None:
    # The core's aiohttp extra, so the optional aiohttp transport is measured too.
    session.install("-e", f"{ROOT / 'autotrader-core'}[aiohttp]", "-e", str(ROOT / f"autotrader-{venue}"))
    session.install(f"ccxt=={CCXT_VERSION}")  # benchmark-only: never a dependency of a package
    session.run("python", str(HERE / venue / script), *session.posargs)


@nox.session(name="bench-binance")
def bench_binance(session: nox.Session) -> None:
    """autotrader-binance vs CCXT async binance: limit (rests) and market (FULL reply with fills)."""
    _bench(session, "binance")


@nox.session(name="bench-okx")
def bench_okx(session: nox.Session) -> None:
    """autotrader-okx vs CCXT async okx (place: the ack; fills come on the stream)."""
    _bench(session, "okx")


@nox.session(name="bench-coinbase")
def bench_coinbase(session: nox.Session) -> None:
    """autotrader-coinbase vs CCXT async coinbase (ES256 JWT per request on both sides)."""
    _bench(session, "coinbase")


@nox.session(name="bench-oanda")
def bench_oanda(session: nox.Session) -> None:
    """autotrader-oanda on lean, aiohttp and httpx vs OANDA's own v20 client (CCXT has no OANDA)."""
    session.install("-e", f"{ROOT / 'autotrader-core'}[aiohttp]", "-e", str(ROOT / "autotrader-oanda"))
    # Benchmark-only: never a dependency of a package. v20 imports yaml without declaring it.
    session.install(f"v20=={V20_VERSION}", "pyyaml")
    session.run("python", str(HERE / "oanda" / "bench.py"), *session.posargs)


@nox.session(name="bench-binance-md")
def bench_binance_md(session: nox.Session) -> None:
    """Binance book ticker: raw frame -> Quote in the price cache vs CCXT pro's handle_message."""
    _bench(session, "binance", "market_data_bench.py")
