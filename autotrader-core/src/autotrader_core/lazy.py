"""Public names that are imported on first use (PEP 562), for package ``__init__`` modules.

Why: ``import autotrader_core`` or ``import autotrader_binance`` (plugin discovery,
version checks) should not pay for pydantic-settings, pluggy or an adapter's
transport until a name that needs them is touched.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any

__all__ = ["lazy_names", "lazy_public_face"]


def lazy_names(
    namespace: dict[str, Any], modules: Mapping[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The ``__getattr__`` and ``__dir__`` of a package whose names resolve on first access.

    Args:
        namespace: The package's ``globals()`` (it must define ``__all__``); a resolved
            name is stored there, so later lookups never reach ``__getattr__`` again.
        modules: Public name → the module it comes from.

    Example::

        __getattr__, __dir__ = lazy_names(globals(), {"BinanceAdapter": "autotrader_binance.adapter"})
    """
    package = namespace["__name__"]

    def __getattr__(name: str) -> Any:
        module = modules.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(namespace["__all__"])

    return __getattr__, __dir__


def lazy_public_face(
    namespace: dict[str, Any], modules: Sequence[str], *, distribution: str
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The ``__getattr__`` and ``__dir__`` of a package whose public names live in ``modules``.

    A name in the package's ``__all__`` is looked up in ``modules`` in order (each
    module's own ``__all__`` says what it exports) and stored in the namespace;
    ``__version__`` is read from ``distribution``'s metadata on first use.
    """
    package = namespace["__name__"]
    public = frozenset(namespace["__all__"])

    def __getattr__(name: str) -> Any:
        if name == "__version__":
            from importlib.metadata import version

            value: Any = version(distribution)
        elif name in public:
            for module_name in modules:
                module = importlib.import_module(module_name)
                if name in getattr(module, "__all__", ()):
                    value = getattr(module, name)
                    break
            else:  # pragma: no cover - tests/test_public_face.py keeps __all__ and the modules in step
                raise AttributeError(
                    f"{package}.{name} is public but no module in {package}._MODULES exports it"
                )
        else:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(namespace["__all__"])

    return __getattr__, __dir__
