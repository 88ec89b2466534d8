"""The printed edition: `make pdf`'s one PDF of the whole book, read back with poppler (pdftotext, pdfinfo, pdftoppm).

`make test` builds the PDF first (tools/pdf.py) and installs poppler when it can (tools/preflight.py).
"""

import collections
import functools
import io
import os
import re
import shutil
import subprocess
import urllib.parse

import pytest
from bs4 import BeautifulSoup
from PIL import Image
from pypdf import PdfReader

import pdf as tool  # tools/pdf.py, on the path from conftest
import preflight
from conftest import SHOTS, SITE, toc_pages

pytestmark = pytest.mark.xdist_group("pdf")  # the PDF's text and pictures (module fixtures) are read once, on one worker

PDF = tool.OUT / tool.PDF_NAME
# What MathJax would leave on the page had it not typeset the math: display and inline delimiters, environments,
# and the commands the chapters use most.
RAW_TEX = [r"$$", r"\(", r"\)", r"\[", r"\]", r"\begin{", r"\end{", r"\frac", r"\sum", r"\log", r"\exp", r"\mathrm",
           r"\operatorname", r"\left", r"\right", r"\cdot", r"\text{", r"\qquad"]
MM = 72 / 25.4  # PDF points per millimetre


def poppler(tool_name, *args):
    """Run one of poppler's tools on the book's PDF; its standard output."""
    found = shutil.which(tool_name)
    if found is None:
        pytest.fail(f"{tool_name} is missing: run `make test`, which installs poppler-utils (tools/preflight.py)")
    result = subprocess.run([found, *args], capture_output=True, text=True, check=True)
    return result.stdout


@pytest.fixture(scope="module")
def pdf_path():
    if not PDF.is_file():
        pytest.fail(f"{PDF} is missing: run `make pdf` (make test does it first)")
    return PDF


def test_the_pdf_was_printed_from_the_site_as_it_is_now(pdf_path):
    """`make pdf` prints again only when the site, its tools or the browser changed (tools/fingerprint.py): the PDF
    these tests read must carry the fingerprint of the site as it is now."""
    stamp = tool.OUT / tool.STAMP_NAME
    browser = preflight.find_browser(os.environ.get("CHROMIUM"))
    assert stamp.is_file(), "no fingerprint beside the PDF: run `make pdf`"
    assert stamp.read_text().strip() == tool.inputs_digest(SITE, browser), "the site changed since: run `make pdf`"
    assert (SITE / tool.PDF_NAME).read_bytes() == pdf_path.read_bytes(), "the site carries another PDF"


@pytest.fixture(scope="module")
def pages_text(pdf_path):
    """The text of every page, in order (pdftotext separates pages with a form feed)."""
    return poppler("pdftotext", "-layout", str(pdf_path), "-").split("\f")[:-1]


@pytest.fixture(scope="module")
def text(pages_text):
    """The whole book's text with runs of white space made single spaces."""
    return " ".join(" ".join(pages_text).split())


@pytest.fixture(scope="module")
def info(pdf_path):
    fields = {}
    for line in poppler("pdfinfo", str(pdf_path)).splitlines():
        key, _, value = line.partition(":")
        fields[key.strip()] = value.strip()
    return fields


@functools.lru_cache(maxsize=None)
def page_soup(name):
    """A built page of the site, parsed once for the whole module."""
    return BeautifulSoup((SITE / f"{name}.html").read_text(), "html.parser")


@functools.lru_cache(maxsize=None)
def site_titles():
    """Each page's title (its h1, without the heading's link sign), in reading order."""
    titles = []
    for name in toc_pages():
        soup = page_soup(name)
        heading = soup.select_one("article h1") or soup.find("h1")
        links = "".join(link.get_text() for link in heading.select(".headerlink"))
        titles.append(" ".join(heading.get_text().removesuffix(links).split()))
    return tuple(titles)


def test_every_chapter_title_and_the_running_example_loss_are_in_the_pdf(text):
    for title in site_titles():
        assert title in text, f"chapter title missing from the PDF: {title}"
    assert "1.3577" in text


def site_code_text():
    """The text of every code block, output and inline code on the site's pages: printed verbatim, TeX and all."""
    parts = []
    for name in toc_pages():
        soup = page_soup(name)
        parts += [element.get_text() for element in soup.select("article pre, article code")]
    return " ".join(" ".join(parts).split())


def test_math_is_typeset_no_raw_tex_is_left(text):
    """Raw TeX appears only as often as the code shows it (a plot label may be TeX): never in the prose."""
    code = site_code_text()
    left = {tex: (text.count(tex), code.count(tex)) for tex in RAW_TEX if text.count(tex) > code.count(tex)}
    assert left == {}, f"raw TeX in the PDF's text (times in the PDF, times in the site's code): {left}"


def test_page_count_is_sane_and_every_page_after_the_title_is_numbered(info, pages_text):
    chapters = len(toc_pages())
    pages = int(info["Pages"])
    assert pages == len(pages_text)
    assert chapters + 2 <= pages <= 40 * chapters, pages
    assert info["Page size"].endswith("(A4)"), info["Page size"]
    for number, page in enumerate(pages_text[1:], start=2):
        last = [line for line in page.splitlines() if line.strip()][-1]
        assert re.search(rf"(^|\s){number}$", last.strip()), f"page {number} ends with {last.strip()!r}"


def test_contents_page_lists_every_chapter_at_the_page_where_it_starts(pages_text):
    contents = next(i for i, page in enumerate(pages_text) if page.lstrip().startswith("Contents"))
    listing = " ".join(pages_text[contents].split())
    for title in site_titles():
        found = re.search(re.escape(title) + r"[ .…]*(\d+)", listing)
        assert found, f"{title} is not on the contents page"
        start = int(found.group(1))
        assert title in " ".join(pages_text[start - 1].split()), f"{title} does not start on page {start}"


def test_outline_has_every_chapter_under_its_part_in_reading_order(pdf_path):
    reader = PdfReader(pdf_path)
    top = [item for item in reader.outline if not isinstance(item, list)]
    titles = []

    def walk(items, depth):
        for item in items:
            if isinstance(item, list):
                walk(item, depth + 1)
            elif depth <= 1:
                titles.append(" ".join(item.title.split()))

    walk(reader.outline, 0)
    expected = list(site_titles())
    in_outline = [title for title in titles if title in expected]
    assert in_outline == expected
    assert {caption for caption, _ in tool.toc_parts() if caption} <= {item.title for item in top}


def link_targets(pdf_path):
    """Every URI a link in the PDF points at."""
    uris = []
    for page in PdfReader(pdf_path).pages:
        for annotation in page.get("/Annots") or []:
            action = annotation.get_object().get("/A")
            if action is not None and "/URI" in action:
                uris.append(str(action["/URI"]))
    return uris


def test_each_explorable_points_at_its_live_page_and_no_link_points_at_the_local_server(pdf_path, text):
    public = tool.public_url(tool.load_config())
    uris = link_targets(pdf_path)
    local = [uri for uri in uris if urllib.parse.urlsplit(uri).hostname in ("127.0.0.1", "localhost")]
    assert local == [], local[:5]
    widget_pages = [name for name in toc_pages()
                    if "application/vnd.jupyter.widget-view+json" in (SITE / f"{name}.html").read_text()]
    assert widget_pages, "no page of the site shows an explorable"
    notes = text.count("Explorable, printed in its saved state")
    assert notes >= len(widget_pages)
    for name in widget_pages:
        assert any(uri.startswith(f"{public}{name}.html#") for uri in uris), f"no live link to {name}"


def test_figures_are_in_the_pdf(pdf_path):
    figures = sum(
        len(page_soup(name).select('article img[src*="_images/"]'))
        for name in toc_pages()
    )
    listed = poppler("pdfimages", "-list", str(pdf_path)).splitlines()[2:]
    assert figures > 0 and len(listed) >= figures, (figures, len(listed))


def test_no_text_runs_past_the_right_margin(pdf_path):
    """Long code lines wrap: pdftotext's word boxes all end inside the printed area (a cut line would not)."""
    boxes = poppler("pdftotext", "-bbox", str(pdf_path), "-")
    width = float(re.search(r'<page width="([\d.]+)"', boxes).group(1))
    limit = width - 15 * MM + 2  # the right margin tools/pdf.py prints with, plus 2 pt
    words = re.findall(r'<word xMin="[\d.]+" yMin="[\d.]+" xMax="([\d.]+)" yMax="[\d.]+">([^<]*)</word>', boxes)
    assert len(words) > 1000, "pdftotext -bbox gave no word boxes"
    past = [(float(x), word) for x, word in words if float(x) > limit]
    assert past == [], f"{len(past)} words past the right margin, e.g. {past[:5]}"


def test_the_site_ships_the_pdf_and_the_landing_page_links_to_it(pdf_path):
    shipped = SITE / tool.PDF_NAME
    assert shipped.read_bytes() == pdf_path.read_bytes()
    landing = SITE / f"{toc_pages()[0]}.html"
    links = [a["href"] for a in page_soup(toc_pages()[0]).select("article a[href]")]
    targets = {(landing.parent / urllib.parse.urlsplit(href).path).resolve() for href in links if href.endswith(".pdf")}
    assert shipped.resolve() in targets, links


def test_the_contents_and_every_page_with_an_explorable_are_saved_as_png(pdf_path, pages_text):
    """For a reader's look: the contents page and each page with an explorable's printed note, in _build/screenshots/."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    for old in SHOTS.glob("pdf-*.png"):
        old.unlink()
    contents = next(i for i, page in enumerate(pages_text) if page.lstrip().startswith("Contents")) + 1
    explorables = [i + 1 for i, page in enumerate(pages_text) if "Explorable, printed" in page]
    assert len(explorables) >= len(toc_pages()) - 2  # every chapter's explorable (not the landing or instructors' page)
    shots = [(contents, "pdf-contents")] + [(number, f"pdf-explorable-page-{number:03d}") for number in explorables]
    for number, name in shots:
        poppler("pdftoppm", "-png", "-r", "80", "-singlefile", "-f", str(number), "-l", str(number), str(pdf_path),
                str(SHOTS / name))
        assert (SHOTS / f"{name}.png").stat().st_size > 10_000


def test_missing_poppler_stops_with_a_message_saying_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    assert preflight.find_poppler() is None
    with pytest.raises(preflight.Missing, match="poppler-utils"):
        preflight.check_poppler(may_install=False)
    for name in preflight.POPPLER_TOOLS:
        (tmp_path / name).write_text("#!/bin/sh\n")
        (tmp_path / name).chmod(0o755)
    assert preflight.check_poppler(may_install=False) == str(tmp_path)


def chapter_pages(pages_text):
    """{title: range of 0-based page indices}, from the contents page (each chapter runs to the next one's start)."""
    contents = next(i for i, page in enumerate(pages_text) if page.lstrip().startswith("Contents"))
    listing = " ".join(pages_text[contents].split())
    starts = [int(re.search(re.escape(title) + r"[ .…]*(\d+)", listing).group(1)) - 1 for title in site_titles()]
    ends = starts[1:] + [len(pages_text)]
    return {title: range(start, end) for title, start, end in zip(site_titles(), starts, ends)}


def body_font_size(reader, pages):
    """The size (pt) most of a chapter's prose is set in: of the characters in its sans-serif regular font (not the
    code's monospace, not bold), the size that has the most of them."""
    sizes = collections.Counter()

    def visit(text, cm, tm, font, size):
        name = str((font or {}).get("/BaseFont", "")).lower()
        if not text.strip() or any(word in name for word in ("mono", "code", "courier", "bold", "italic", "mjx")):
            return
        scale = (abs(tm[0] * cm[0] + tm[1] * cm[2]) ** 2 + abs(tm[0] * cm[1] + tm[1] * cm[3]) ** 2) ** 0.5
        sizes[round(size * scale, 1)] += len(text.strip())

    for index in pages:
        reader.pages[index].extract_text(visitor_text=visit)
    return sizes.most_common(1)[0][0] if sizes else None


def test_body_text_has_one_size_in_every_chapter(pdf_path, pages_text):
    """Chromium shrinks a page that is wider than the paper as a whole: tools/pdf.py fits wide things one by one."""
    reader = PdfReader(pdf_path)
    # Each chapter is printed in one go, so a shrunk chapter is shrunk on every page: its first pages (mostly prose:
    # goals, intuition) tell its size, and reading only those keeps the test quick.
    sizes = {title: body_font_size(reader, pages[:2]) for title, pages in chapter_pages(pages_text).items()}
    assert None not in sizes.values(), sizes
    assert max(sizes.values()) <= min(sizes.values()) * 1.01, f"body text sizes (pt): {sizes}"


def test_nothing_is_printed_in_the_side_margins(pdf_path, pages_text):
    """No explorable, table, equation or code runs past the printed column into the 15 mm side margins: every page,
    rendered, has nothing but paper there (the page number sits between the margins). Chromium shrinking a whole
    chapter to fit (see above) would hide an overflow from this test: the two tests go together."""
    dpi = 36
    margin = int((15 - 1.5) / 25.4 * dpi)  # 15 mm less a little for anti-aliasing
    count = len(pages_text)
    titles = {index: title for title, pages in chapter_pages(pages_text).items() for index in pages}
    inked, seen = [], 0
    for first in range(1, count + 1, 40):
        last = min(first + 39, count)
        out = subprocess.run(["pdftoppm", "-r", str(dpi), "-gray", "-f", str(first), "-l", str(last), str(pdf_path)],
                             capture_output=True, check=True).stdout
        for offset, image in enumerate(split_pgm(out)):
            seen += 1
            width, height = image.size
            if offset == 0:  # the first page of each batch has text: rendering shows ink where there is some
                assert image.getextrema()[0] < 200, f"page {first} rendered blank"
            for side, box in (("left", (0, 0, margin, height)), ("right", (width - margin, 0, width, height))):
                if image.crop(box).getextrema()[0] < 200:  # darker than paper and the faintest anti-aliasing
                    number = first + offset
                    inked.append(f"page {number} ({titles.get(number - 1, 'front matter')}), {side}")
    assert seen == count, f"rendered {seen} of {count} pages"
    assert inked == [], f"{len(inked)} pages print into a side margin: {inked[:10]}"


def split_pgm(data):
    """The images in pdftoppm's output to standard output: a series of binary PGM files."""
    images = []
    while data:
        match = re.match(rb"P5\s+(\d+)\s+(\d+)\s+(\d+)\s", data)
        width, height = int(match.group(1)), int(match.group(2))
        end = match.end() + width * height
        images.append(Image.open(io.BytesIO(data[:end])))
        data = data[end:]
    return images
