"""Suite-wide settings: an isolated TOOLKIT_HOME so tests never touch the user's ~/.toolkit."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

_HOME = Path(tempfile.mkdtemp(prefix="toolkit-test-home-"))
os.environ["TOOLKIT_HOME"] = str(_HOME)
os.environ.pop("TOOLKIT_WORKSPACE", None)
os.environ.pop("TOOLKIT_ENVIRONMENT", None)
os.environ.pop("TOOLKIT_DOMAIN", None)
os.environ.pop("TOOLKIT_SERVE_ORIGIN", None)
# Workers run in the test's own environment: the example apps' images pip_install packages (torch,
# fastapi[standard]) that per-image environments would download.  tests/images/test_local_env.py
# turns image environments on where it tests them.
os.environ["TOOLKIT_LOCAL_ENV"] = "current"

REPO = Path(__file__).resolve().parent.parent
