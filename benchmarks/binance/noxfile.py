"""The Binance submit-path benchmark in its own venv (CCXT lives here and nowhere else).

The core's ``aiohttp`` extra is installed too, so the optional aiohttp transport is measured.

nox -f benchmarks/binance/noxfile.py            (from the repository root)
"""

from __future__ import annotations

from pathlib import Path

import nox

HERE = Path(__file__).parent
ROOT = HERE.parent.parent

CCXT_VERSION = "4.5.90"  # pinned: figures are comparable across runs only against the same CCXT
nox.options.default_venv_backend = "uv|virtualenv"


@nox.session(name="bench-binance")
def bench_binance(session: nox.Session) -> None:
    """autotrader-binance vs CCXT async binance against the loopback stand-in (figures, not pass/fail)."""
    session.install("-e", f"{ROOT / 'autotrader-core'}[aiohttp]", "-e", str(ROOT / "autotrader-binance"))
    session.install(f"ccxt=={CCXT_VERSION}")  # benchmark-only: never a dependency of the package
    session.run("python", str(HERE / "bench.py"), *session.posargs)
