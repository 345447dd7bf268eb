"""Headless Chromium loads served pages by their printed URLs (``*.localhost`` resolves to loopback)."""

from __future__ import annotations

import shutil
import subprocess
import tempfile

import pytest
from serving import APPS, served

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium package (apt-get install chromium)")


def dump_dom(url: str) -> str:
    """The DOM after scripts ran, as Chromium renders it (flags keep it off the network)."""
    with tempfile.TemporaryDirectory(prefix="toolkit-chromium-") as profile:
        result = subprocess.run(
            [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={profile}", "--virtual-time-budget=3000", "--dump-dom", url],
            capture_output=True, text=True, timeout=90,
        )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def test_browser_renders_html_endpoint_and_docs_page() -> None:
    with served(APPS / "browser.py") as server:
        page_url = f"http://{server.host('browser-page')}/"
        dom = dump_dom(page_url)
        assert "rendered-42-" + server.host("browser-page") in dom  # the page's script ran in the browser
        docs = dump_dom(f"http://{server.host('browser-documented')}/docs")
        assert "<title>" in docs and "swagger-ui" in docs
        assert "/openapi.json" in docs
        index = dump_dom(f"http://localhost:{server.port}/")
        assert page_url.rstrip("/") in index  # the index links every endpoint
