"""The overflow explorer with a live kernel: chapter 4 opened alone in a real JupyterLab, driven in Chromium."""

import json
import shutil
import time
import urllib.request

import pytest

from conftest import ROOT, SHOTS, Page
from helpers import JUPYTERLAB_TOKEN as TOKEN, jupyterlab as jupyterlab_server
from xentbook.explorables.overflow import explore, fmt

CHAPTER_4 = ROOT / "chapters" / "04_log_sum_exp.ipynb"
KERNEL_LINE = ".xent-ox .xent-ox-kernel"


@pytest.fixture
def jupyterlab(tmp_path):
    """JupyterLab serving a folder that holds chapter 4 alone, on 127.0.0.1; yields the notebook's URL."""
    book = tmp_path / "book"
    book.mkdir()
    shutil.copy(CHAPTER_4, book / CHAPTER_4.name)
    # A reader's JupyterLab as it would be after ticking "Always start the preferred kernel" and "never fetch news".
    settings = {
        "notebook-extension/tracker": {"autoStartDefaultKernel": True},
        "apputils-extension/notification": {"fetchNews": "false", "checkForUpdates": False},
    }
    with jupyterlab_server(book, tmp_path, settings) as base:
        # Start the notebook's kernel through the REST API, as a reader's first run would.
        session = json.dumps({"path": CHAPTER_4.name, "type": "notebook", "name": CHAPTER_4.name,
                              "kernel": {"name": "python3"}}).encode()
        request = urllib.request.Request(f"{base}/api/sessions?token={TOKEN}", data=session, method="POST",
                                         headers={"Content-Type": "application/json"})
        urllib.request.urlopen(request, timeout=30).close()
        yield base


def accept_dialogs(page, seconds):
    """For a few seconds, accept any dialog JupyterLab raises (its "Select Kernel" offers the notebook's own)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        accept = page.locator(".jp-Dialog button.jp-mod-accept")
        if accept.count() and accept.first.is_visible():
            accept.first.click()
        page.wait_for_timeout(250)


def test_explorer_recomputes_with_torch_in_a_live_kernel(browser, jupyterlab):
    reader = Page(browser)
    page = reader.page
    try:
        page.goto(f"{jupyterlab}/lab/tree/{CHAPTER_4.name}?token={TOKEN}")
        page.locator(".jp-Notebook").first.wait_for(timeout=60000)
        page.locator(".jp-Notebook .jp-Cell").first.wait_for(timeout=60000)
        accept_dialogs(page, 5)
        page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
        page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
        page.locator(KERNEL_LINE).first.wait_for(state="attached", timeout=120000)  # far down the notebook
        page.wait_for_function(
            f"document.querySelector('{KERNEL_LINE}').textContent.includes(\"torch's answer\")", timeout=60000
        )
        page.locator(".xent-ox").first.scroll_into_view_if_needed()
        assert "agree" in page.locator(".xent-ox .xent-ox-message").first.text_content()

        past = explore(scale="70")  # torch's numbers, computed here, for the kernel's answer to match
        answer = f"naive loss {fmt(past.naive_loss)}, stable loss {fmt(past.stable_loss)}"
        scale = page.locator(".xent-ox input[type=text][id$='-scale']").first
        scale.fill("70")  # the front end sends it to the kernel, which answers with torch's numbers
        page.wait_for_function(
            f"document.querySelector('{KERNEL_LINE}').textContent.includes('{answer}')",
            timeout=30000,
        )
        scale.fill("NaN")
        page.wait_for_function(
            f"document.querySelector('{KERNEL_LINE}').textContent.includes('Scale is NaN')", timeout=30000
        )
        assert "Scale is NaN" in page.locator(".xent-ox .xent-ox-message").first.text_content()
        scale.fill("70")
        page.wait_for_function(
            f"document.querySelector('{KERNEL_LINE}').textContent.includes('{answer}')", timeout=30000
        )
        page.locator(".xent-ox").first.screenshot(path=str(SHOTS / "jupyterlab-explorer-live-kernel.png"))
        assert reader.errors == []
    finally:
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / "jupyterlab-last-view.png"))  # what the reader saw last, pass or fail
        reader.close()
