"""A shared link looks like the book: every built page carries its Open Graph and Twitter card tags, the preview
image and the favicon from the site itself, all derived from html.baseurl (tools/social_preview.py)."""

import html.parser

import pytest
from PIL import Image

from book_config import load_config, site_url, toc_pages
from conftest import SITE

import social_preview  # tools/social_preview.py, on the path from conftest


class Head(html.parser.HTMLParser):
    """The <meta> and <link rel="icon"> tags of a page."""

    def __init__(self, text):
        super().__init__()
        self.meta, self.icons, self.refresh = {}, [], None
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "meta" and ("property" in attrs or "name" in attrs):
            self.meta[attrs.get("property") or attrs["name"]] = attrs.get("content")
        elif tag == "meta" and attrs.get("http-equiv") == "Refresh":
            self.refresh = attrs["content"]
        elif tag == "link" and attrs.get("rel") == "icon":
            self.icons.append(attrs["href"])


@pytest.fixture(scope="module")
def built():
    if not (SITE / "index.html").exists():
        pytest.fail("_build/html is missing: run `make book` (make test does it first)")
    return SITE


def test_every_page_has_the_tags_a_link_preview_reads(built):
    base = site_url(load_config())
    for docname in toc_pages():
        head = Head((built / f"{docname}.html").read_text())
        meta = head.meta
        assert meta["og:url"] == f"{base}{docname}.html", docname
        assert meta["og:title"] and meta["og:description"], docname
        assert meta["og:image"] == f"{base}_static/preview.png", docname
        assert meta["og:image:alt"] and meta["og:site_name"] == load_config()["title"], docname
        assert meta["twitter:card"] == "summary_large_image", docname
        depth = docname.count("/")
        assert head.icons == ["../" * depth + "_static/favicon.png"], docname


def test_the_root_address_previews_as_the_landing_page_and_still_redirects(built):
    root = toc_pages()[0]
    head, landing = Head((built / "index.html").read_text()), Head((built / f"{root}.html").read_text())
    assert head.refresh == f"0; url={root}.html"
    shared = {key: value for key, value in landing.meta.items() if key.startswith(("og:", "twitter:", "description"))}
    assert head.meta == shared and head.meta["og:title"]
    assert head.icons == ["_static/favicon.png"]


def test_the_preview_and_the_favicon_are_served_by_the_site_in_the_sizes_previews_use(built):
    with Image.open(built / "_static" / "preview.png") as preview:
        assert preview.size == social_preview.PREVIEW_SIZE == (1200, 630)
    with Image.open(built / "_static" / "favicon.png") as icon:
        assert icon.size[0] == icon.size[1] >= 32
    assert (built / "_static" / "preview.png").read_bytes() == social_preview.PREVIEW.read_bytes()
    assert (built / "_static" / "preview.png").stat().st_size < 200_000  # a preview fetch stays small
