"""Public names that resolve on first use (PEP 562) are the same objects as eager imports."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest


def _run(code: str) -> str:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout


def test_resiliency_retry_is_the_function_even_after_its_submodule_loaded() -> None:
    # `retry` is also a submodule's name: importing that submodule must not shadow the function.
    out = _run(
        "import inspect\n"
        "import autotrader_core.resiliency.submit\n"
        "from autotrader_core.resiliency import retry\n"
        "print(inspect.isfunction(retry))\n"
    )
    assert out.strip() == "True"


@pytest.mark.parametrize(
    "name", ["CircuitBreaker", "DeadLetterQueue", "submit_with_lookup", "RateLimiter", "retry"]
)
def test_every_resiliency_name_resolves(name: str) -> None:
    import autotrader_core.resiliency as resiliency

    assert name in dir(resiliency)
    assert getattr(resiliency, name).__module__.startswith("autotrader_core.resiliency.")


def test_the_rate_limiter_does_not_depend_on_the_breaker_or_dead_letters() -> None:
    # Since `autotrader_core` imports its public face eagerly (one import for a strategy
    # author), importing any core module loads the engine and with it the breaker; what
    # still holds, and matters for the module's design, is that the rate limiter needs neither.
    import ast

    import autotrader_core.resiliency.rate_limit as rate_limit

    tree = ast.parse(Path(rate_limit.__file__).read_text(encoding="utf-8"))
    modules = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    modules |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    assert not {m for m in modules if "breaker" in m or "dead_letter" in m}


def test_lazy_names_resolves_once_and_names_the_package_in_errors() -> None:
    from autotrader_core.lazy import lazy_names

    namespace: dict[str, object] = {"__name__": "somepkg", "__all__": ["Decimal"]}
    getattr_, dir_ = lazy_names(namespace, {"Decimal": "decimal"})
    from decimal import Decimal

    assert getattr_("Decimal") is Decimal
    assert namespace["Decimal"] is Decimal  # cached: the next lookup never reaches __getattr__
    assert dir_() == ["Decimal"]
    with pytest.raises(AttributeError, match="module 'somepkg' has no attribute 'Nope'"):
        getattr_("Nope")
