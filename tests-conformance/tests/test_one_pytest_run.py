"""Every package's tests can be collected in one pytest run (issue 13, part 5).

In pytest's default import mode a test folder without ``__init__.py`` is put on
``sys.path`` and its modules are imported by bare name, so two packages with a
``tests/test_adapter.py`` each (or two helpers called ``support.py``) cannot be
collected together ("import file mismatch"). The fix is a unique name per module:
``test_<package>_<topic>.py`` and ``<package>_<role>.py`` for helpers.

Every package follows it; the ``types`` nox session (every package in one venv) also
collects all the test folders in one run.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _bare_name_modules() -> dict[str, set[str]]:
    """``{module file name: packages}`` over the test folders imported by bare name."""
    found: dict[str, set[str]] = defaultdict(set)
    for folder in sorted(ROOT.glob("*/tests")):
        if (folder / "__init__.py").exists():
            continue  # a package: its modules are imported as tests.<name>
        for path in folder.glob("*.py"):
            if path.name != "conftest.py":  # pytest imports each conftest by its path
                found[path.name].add(folder.parent.name)
    return found


def test_no_two_packages_share_a_test_module_name() -> None:
    shared = {name: sorted(packages) for name, packages in _bare_name_modules().items() if len(packages) > 1}
    assert not shared, (
        f"test modules with the same name in several packages cannot be collected in one pytest run: {shared}; "
        "name them test_<package>_<topic>.py (helpers <package>_<role>.py)"
    )


def test_at_most_one_tests_package() -> None:
    packages = sorted(p.parent.name for p in ROOT.glob("*/tests/__init__.py"))
    assert len(packages) <= 1, f"several packages named 'tests' collide in one pytest run: {packages}"
