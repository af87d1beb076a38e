"""Paths of the real statement fixtures and of this package's own small test files."""

from __future__ import annotations

import os
from pathlib import Path

from tests.conftest import ROOT, SHARED


def _fixtures() -> Path:
    """shared/ sits next to the checkout (main) or two levels up (a worktree under wt/)."""
    candidates = [Path(os.environ["RECONWB_FIXTURES"])] if os.environ.get("RECONWB_FIXTURES") else []
    candidates += [SHARED / "fixtures" / "statements", ROOT.parent.parent / "shared" / "fixtures" / "statements"]
    return next((c for c in candidates if c.is_dir()), candidates[0])


FIXTURES = _fixtures()
DATA = Path(__file__).parent / "data"
