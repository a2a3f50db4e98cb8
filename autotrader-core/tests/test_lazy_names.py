"""Public names that resolve on first use (PEP 562) are the same objects as eager imports."""

from __future__ import annotations

import subprocess
import sys

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


def test_the_rate_limiter_alone_does_not_load_the_breaker_or_dead_letters() -> None:
    out = _run(
        "import sys\n"
        "from autotrader_core.resiliency.rate_limit import RateLimiter\n"
        "print(sorted(m for m in sys.modules if m.startswith('autotrader_core.resiliency.')))\n"
    )
    assert "breaker" not in out and "dead_letter" not in out


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
