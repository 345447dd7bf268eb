"""Suite-wide settings: an isolated TOOLKIT_HOME so tests never touch the user's ~/.toolkit, and the
one moto server the AWS-side tests share (tests/moto_support.py)."""

from __future__ import annotations

import asyncio
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from moto_support import moto_server

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


# The loop the suite starts with, current in the main thread before any test module imports pulumi.
_MAIN_LOOP = asyncio.new_event_loop()
asyncio.set_event_loop(_MAIN_LOOP)


@pytest.fixture(autouse=True)
def _the_main_event_loop_is_current() -> None:
    """Each test starts with the suite's main loop current again.

    A test that calls ``asyncio.run()`` leaves the main thread with no current loop; Pulumi's mock
    runtime (the infra tests) then makes futures on one loop and awaits them on another ("await
    wasn't used with future"), so a test's outcome would depend on which tests ran before it.
    """
    asyncio.set_event_loop(_MAIN_LOOP)


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """One moto server process for the run; a test resets it or makes resources of its own."""
    with moto_server() as endpoint:
        yield endpoint
