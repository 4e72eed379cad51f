"""Render report.html in headless Chromium: the page loads offline, every section and plot is in the DOM.

Needs Debian's ``chromium`` package (``apt-get install -y chromium``; ``.ci/run`` installs it).
"""

from __future__ import annotations

import shutil
import subprocess

import pytest
from policy_store.reports import build_report

from policy_store import PolicyStore

from ._parse import parse_html
from .test_report_content import SECTIONS

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install -y chromium)")

FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync")


def _chromium(tmp_path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}", *args],
                          capture_output=True, text=True, timeout=120, check=True)


@pytest.fixture(scope="module")
def html(report_store, tmp_path_factory):
    with PolicyStore(report_store, read_only=True) as store:
        return build_report(store, tmp_path_factory.mktemp("chromium-report"))


def test_chromium_renders_every_section_and_plot(html, tmp_path):
    dom = parse_html(_chromium(tmp_path, "--dump-dom", html.as_uri()).stdout)
    assert dom.sections == SECTIONS
    for key in ("pareto", "killed_best", "heatmap", "expected_observed", "curves_0", "timeline_1",
                "provenance_timeline", "meta_comparison"):
        assert key in dom.figures
    assert dom.svgs == len(dom.figures) >= 7
    assert dom.scripts == 0, "the hostile task name must not become a script element"


def test_chromium_screenshot_is_drawn(html, tmp_path):
    png = tmp_path / "report.png"
    _chromium(tmp_path, f"--screenshot={png}", "--window-size=1280,4000", html.as_uri())
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(data) > 50_000, "a blank page compresses to a few kB"
