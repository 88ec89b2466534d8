"""Fixtures shared by the tests: the book's paths, the built site served on 127.0.0.1, a real headless Chromium."""

import os
import pathlib
import sys
import urllib.parse

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))  # the tests import the build tools (book_config.py, notebooks.py, slides.py) by name
from book_config import toc_chapters, toc_pages  # noqa: E402,F401  re-exported: the tests read _toc.yml as the build does
from preflight import Missing, find_browser  # noqa: E402  the browser is found as `make test` finds it
from serving import serve  # noqa: E402,F401  the site and slides are served as the PDF printer serves them
SITE = ROOT / "_build" / "html"
SHOTS = ROOT / "_build" / "screenshots"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def site_url():
    """The built site, served over HTTP on 127.0.0.1 for the session."""
    if not (SITE / "index.html").exists():
        pytest.fail("_build/html is missing: run `make book` (make test does it first)")
    with serve(SITE) as url:
        yield url


@pytest.fixture(scope="session")
def browser():
    """A real headless Chromium (the CHROMIUM setting, or the first on PATH), driven by Playwright."""
    from playwright.sync_api import sync_playwright

    try:
        executable = find_browser(os.environ.get("CHROMIUM"))
    except Missing as missing:
        pytest.fail(str(missing))
    if executable is None:
        pytest.fail("no Chromium found: run `make test`, which finds or installs one (see tools/preflight.py)")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


class Page:
    """A browser page that blocks and counts every request to a host other than 127.0.0.1."""

    def __init__(self, browser, color_scheme="light"):
        self.context = browser.new_context(viewport={"width": 1280, "height": 900}, color_scheme=color_scheme)
        self.page = self.context.new_page()
        self.blocked = []
        self.errors = []
        self.failed = []
        self.page.route("**/*", self._route)
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.page.on("requestfailed", lambda request: self.failed.append(request.url))
        self.page.on(
            "response", lambda response: self.failed.append(response.url) if response.status >= 400 else None
        )

    def _route(self, route):
        url = route.request.url
        host = urllib.parse.urlsplit(url).hostname
        if url.startswith(("data:", "blob:", "file:")) or host == "127.0.0.1":
            route.continue_()
        else:
            self.blocked.append(url)
            route.abort()

    def close(self):
        self.context.close()


@pytest.fixture
def page(browser):
    """A fresh light-mode page (see Page)."""
    wrapped = Page(browser)
    yield wrapped
    wrapped.close()
