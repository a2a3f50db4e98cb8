"""autotrader-paper: a deterministic paper-trading broker implementing the full adapter contract."""

from __future__ import annotations

from importlib.metadata import version
from typing import TYPE_CHECKING

from autotrader_core.lazy import lazy_names

__version__ = version("autotrader-paper")

if TYPE_CHECKING:
    from autotrader_paper.adapter import PAPER_CAPABILITIES, PaperAdapter
    from autotrader_paper.faults import FaultInjector, InjectedFault
    from autotrader_paper.settings import PaperInstrument, PaperSettings
    from autotrader_paper.simulator import Simulator

__all__ = [
    "PAPER_CAPABILITIES",
    "FaultInjector",
    "InjectedFault",
    "PaperAdapter",
    "PaperInstrument",
    "PaperSettings",
    "Simulator",
    "__version__",
]

# Names resolve on first use (PEP 562): plugin discovery imports this package on its way to
# `autotrader_paper.plugin`, and must not pay for pydantic-settings and the adapter.
_LAZY = {
    "PAPER_CAPABILITIES": "autotrader_paper.adapter",
    "FaultInjector": "autotrader_paper.faults",
    "InjectedFault": "autotrader_paper.faults",
    "PaperAdapter": "autotrader_paper.adapter",
    "PaperInstrument": "autotrader_paper.settings",
    "PaperSettings": "autotrader_paper.settings",
    "Simulator": "autotrader_paper.simulator",
}

__getattr__, __dir__ = lazy_names(globals(), _LAZY)
