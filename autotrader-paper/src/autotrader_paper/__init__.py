"""autotrader-paper: a deterministic paper-trading broker implementing the full adapter contract."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("autotrader-paper")
except PackageNotFoundError:  # running from a source tree without installing
    __version__ = "0.0.0"

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
