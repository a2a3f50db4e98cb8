"""The committed transcripts are exactly what ibkr_compose_recordings.py composes (issue 13).

A transcript edited by hand, or a composer edited without re-running it, fails here with the diff.
"""

from __future__ import annotations

import io

import ibkr_compose_recordings as composer


def test_committed_transcripts_are_what_the_composer_makes() -> None:
    out = io.StringIO()
    assert composer.COMPOSER.main(["--check"], out=out) == 0, out.getvalue()
