"""Print the built site into one PDF of the whole book (`make pdf`).

    python tools/pdf.py [--site _build/html] [--out _build/pdf]

Chromium prints every page of the built site in reading order (_toc.yml), the way a reader's own browser prints
it: after MathJax has typeset the math and the explorables have rendered their saved state. For print, code lines
wrap instead of being cut, folded solutions are opened, and each explorable gets a line with the address of its
live page. Each page is laid out at the printed column's width, and a display equation, table or explorable wider
than the column is printed smaller on its own, so that Chromium never shrinks a whole page to fit: the body text
has one size in every chapter (tests/test_pdf.py measures it). pypdf then joins the pages behind a title and contents page, numbers the pages and adds the outline
(bookmarks: parts, chapters, sections). The PDF is written to _build/pdf/ and copied into the site, which the
landing page links to. Offline: the pages come from the built site served on 127.0.0.1, and the browser is the
one the tests drive (tools/preflight.py finds it).

Links inside the PDF point at the published site (html.baseurl in _config.yml), never at the local server.
"""

import argparse
import asyncio
import html
import io
import os
import pathlib
import shutil
import sys
import time

import yaml
from pypdf import PdfReader, PdfWriter
from pypdf.generic import ArrayObject, Fit, NameObject

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
from fingerprint import files_under, fingerprint, mark_built, up_to_date  # noqa: E402
from notebooks import load_config  # noqa: E402
from preflight import Missing, find_browser  # noqa: E402
from serving import WAIT_FOR_WIDGETS_AND_MATH, serve  # noqa: E402

SITE = ROOT / "_build" / "html"
OUT = ROOT / "_build" / "pdf"
PDF_NAME = "cross-entropy-book.pdf"
PAGES_AT_ONCE = 3  # browser pages printing at the same time: the work is mostly waiting on 2 cores
A4 = {"format": "A4", "margin": {"top": "16mm", "bottom": "18mm", "left": "15mm", "right": "15mm"}}
# The printed column in CSS pixels (96 per inch): A4's 210 mm less the side margins.
PRINT_WIDTH_PX = round((210 - 15 - 15) / 25.4 * 96)
WIDGET_VIEW = 'script[type="application/vnd.jupyter.widget-view+json"]'
LIVE_NOTE_CLASS = "xent-print-live"

# Print only: the theme's own print CSS already hides the sidebars, the header buttons and the search.
PRINT_CSS = """
@media print {
  html { font-size: 14px; }
  *, *::before, *::after { box-shadow: none !important; }  /* printed shadows are images: weight, no meaning */
  .bd-header-article, .prev-next-area, .bd-footer-content, .bd-footer-article, footer, .headerlink,
  #jb-print-docs-body, .toggle-button, button.toggle-button { display: none !important; }
  .bd-main .bd-content .bd-article-container { max-width: 100% !important; padding: 0 !important; }
  pre, pre code, .highlight pre, .output pre {
    white-space: pre-wrap !important; overflow-wrap: anywhere !important; word-break: break-word;
    overflow: visible !important; max-height: none !important;
  }
  .cell_output, .output, .highlight, mjx-container, .pst-scrollable-table-container, div.math {
    overflow: visible !important; max-height: none !important;
  }
  mjx-container[display="true"] { max-width: 100%; }
  .xent-widget, .xent-widget * { overflow: visible !important; max-height: none !important; }  /* all of it, fitted below */
  /* An explorable's parts print one under another: side by side (chapter 5's, a wrapping flex row), the print
     layout could keep them on one row too wide for the paper, and Chromium then shrank the whole chapter. */
  .xent-widget .xent-explorable { display: block !important; }
  article table { max-width: 100%; }
  article td, article th { overflow-wrap: break-word; }
  .toggle-hidden, .dropdown .toggle-hidden { display: block !important; visibility: visible !important; }
  img, figure, .cell_input, .admonition, .xent-widget, table { break-inside: avoid; }
  h1, h2, h3 { break-after: avoid; }
  .xent-print-live { font-style: italic; margin: 0.3em 0 1em; }
}
"""

# Runs in the page before printing: open what is folded, point each explorable at its live page, and make every
# link to the site point at its published address.
PREPARE_JS = """
([publicUrl, widgetView, noteClass]) => {
  document.querySelectorAll("details").forEach(d => d.open = true);
  document.querySelectorAll(".toggle-hidden").forEach(e => e.classList.remove("toggle-hidden"));
  document.querySelectorAll(".headerlink").forEach(a => a.remove());
  const origin = location.origin + "/";
  const local = href => href.startsWith(origin) ? publicUrl + href.slice(origin.length) : href;
  document.querySelectorAll("a[href]").forEach(a => {
    const href = a.href;  // absolute
    const sameDoc = href.split("#")[0] === location.href.split("#")[0];
    if (!sameDoc) a.setAttribute("href", local(href));
  });
  const page = local(location.href.split("#")[0]);
  const boxes = new Set();
  document.querySelectorAll(widgetView).forEach(view => {
    boxes.add(view.closest(".cell_output") || view.closest(".output") || view.parentElement);
  });
  let count = 0;
  boxes.forEach(box => {
    const section = box.closest("section[id]");
    const url = page + (section ? "#" + section.id : "");
    const p = document.createElement("p");
    p.className = noteClass;
    p.append("Explorable, printed in its saved state. Try it live: ");
    const a = document.createElement("a");
    a.href = url;
    a.textContent = url;
    p.append(a);
    box.after(p);
    count += 1;
  });
  const h1 = document.querySelector("article h1") || document.querySelector("main h1") || document.querySelector("h1");
  const sections = [...document.querySelectorAll("article section > h2")].map(h => h.textContent.trim());
  return {title: h1 ? h1.textContent.trim() : document.title, widgets: count, sections};
}
"""

# Runs in the page laid out for print at the column's width: a display equation, table or explorable wider than
# the column prints smaller on its own (CSS zoom), so that nothing is wider than the page. Chromium would otherwise
# shrink the whole page to fit its widest thing, and body text would change size from chapter to chapter.
FIT_JS = """
(column) => {
  const fitted = [];
  const wanted = el => {  // the width it needs: its own box, or more if something inside it runs on
    const box = el.getBoundingClientRect();
    let right = box.right;
    for (const inner of el.querySelectorAll("*")) {
      if (inner.closest("mjx-assistive-mml")) continue;  // MathJax's copy for screen readers, clipped to nothing
      const r = inner.getBoundingClientRect();
      if (r.width > 0) right = Math.max(right, r.right);
    }
    return Math.max(el.scrollWidth, right - box.left);
  };
  const room = el => {  // the width it may take: its container's content box, and never past the column
    const parent = el.parentElement;
    const style = getComputedStyle(parent);
    const inner = parent.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
    return Math.min(inner, column - (el.getBoundingClientRect().left - document.documentElement.getBoundingClientRect().left));
  };
  const targets = document.querySelectorAll('mjx-container[display="true"], article table, .xent-widget');
  for (const el of targets) {
    if (el.parentElement.closest('.xent-widget, table')) continue;  // fitted with the box it is in
    for (let round = 0; round < 3; round++) {
      const need = wanted(el), have = room(el);
      if (need <= have + 0.5) break;
      const zoom = (parseFloat(el.style.zoom) || 1) * (have / need) * 0.995;
      el.style.zoom = String(zoom);
    }
    if (el.style.zoom) fitted.push(el.tagName.toLowerCase() + " " + Number(el.style.zoom).toFixed(2));
  }
  return {fitted, width: document.documentElement.scrollWidth};
}
"""

READY_JS = """
async () => {
""" + WAIT_FOR_WIDGETS_AND_MATH + """  await document.fonts.ready;
  await Promise.all([...document.images].map(img => img.complete ? null : new Promise(r => { img.onload = img.onerror = r; })));
  return !!root.dataset.widgetsReady || !document.querySelector('script[type*="widget-state"]');
}
"""


def public_url(config):
    """The published site's address (html.baseurl), ending in a slash."""
    base = (config.get("html") or {}).get("baseurl")
    if not base:
        raise Missing("_config.yml has no html.baseurl: the PDF's links to the live pages need the site's address.")
    return base.rstrip("/") + "/"


def toc_parts():
    """[(part caption or None, [page, ...]), ...] in reading order, the landing page first on its own."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    parts = [(None, [toc["root"]])]
    for part in toc.get("parts", []):
        pages = []
        for chapter in part.get("chapters", []):
            pages.append(chapter["file"])
            pages.extend(section["file"] for section in chapter.get("sections", []))
        parts.append((part.get("caption"), pages))
    return parts


async def print_page(context, base, name, public):
    """Print one page of the site; returns (pdf bytes, what the page said about itself)."""
    page = await context.new_page()
    try:
        await page.goto(f"{base}/{name}.html", wait_until="load")
        if not await page.evaluate(READY_JS):
            raise RuntimeError(f"{name}: the explorables did not render")
        await page.add_style_tag(content=PRINT_CSS)
        info = await page.evaluate(PREPARE_JS, [public, WIDGET_VIEW, LIVE_NOTE_CLASS])
        await page.emulate_media(media="print")
        await page.set_viewport_size({"width": PRINT_WIDTH_PX, "height": 1000})  # lay out as on paper, then fit
        fit = await page.evaluate(FIT_JS, PRINT_WIDTH_PX)
        if fit["width"] > PRINT_WIDTH_PX:
            raise RuntimeError(f"{name}: {fit['width']} px wide for a {PRINT_WIDTH_PX} px column after fitting")
        info["fitted"] = fit["fitted"]
        data = await page.pdf(print_background=True, outline=True, **A4)
        return data, info
    finally:
        await page.close()


def front_matter_html(config, public, entries):
    """The title page and the contents page; entries are (kind, text, page number or '', url)."""
    rows = []
    for kind, text, number, url in entries:
        if kind == "part":
            rows.append(f'<li class="part">{html.escape(text)}</li>')
        else:
            rows.append(
                f'<li class="chapter"><a href="{html.escape(url)}">{html.escape(text)}</a>'
                f'<span class="dots"></span><span class="num">{number}</span></li>'
            )
    title = html.escape(config["title"])
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{title}</title><style>
body {{ font-family: "Lato", "DejaVu Sans", sans-serif; color: #222; margin: 0; }}
.title {{ height: 240mm; display: flex; flex-direction: column; justify-content: center; break-after: page; }}
.title h1 {{ font-size: 30pt; line-height: 1.2; margin: 0 0 12mm; }}
.title p {{ font-size: 12pt; margin: 0 0 4mm; }}
h2 {{ font-size: 20pt; margin: 0 0 8mm; }}
ol {{ list-style: none; padding: 0; margin: 0; font-size: 12pt; }}
li {{ margin: 0 0 2.5mm; }}
li.part {{ font-weight: bold; margin-top: 6mm; }}
li.chapter {{ display: flex; align-items: flex-end; padding-left: 6mm; }}  /* the number on the title's last line */
li.chapter a {{ color: inherit; text-decoration: none; }}
.dots {{ flex: 1; border-bottom: 1px dotted #888; margin: 0 2mm 0.3em; min-width: 10mm; }}
.num {{ min-width: 8mm; text-align: right; }}
</style></head><body>
<section class="title"><h1>{title}</h1><p>{html.escape(config.get("author", ""))}</p>
<p>The printed edition of the book at <a href="{html.escape(public)}">{html.escape(public)}</a>, where the explorables
are live. Every number in it was printed by code, in notebooks that are re-executed and compared on each change.</p>
</section>
<section><h2>Contents</h2><ol>{"".join(rows)}</ol></section>
</body></html>"""


def footer_html(labels):
    """One blank A4 page per label, with the label at its foot: laid over the printed pages as page numbers."""
    pages = "".join(f'<div class="p"><div class="f">{html.escape(label)}</div></div>' for label in labels)
    return f"""<!doctype html><html><head><meta charset="utf-8"><style>
@page {{ size: A4; margin: 0; }}
body {{ margin: 0; font-family: "Lato", "DejaVu Sans", sans-serif; }}
.p {{ height: 296mm; position: relative; break-after: page; }}
.f {{ position: absolute; bottom: 7mm; left: 15mm; right: 15mm; text-align: center; font-size: 8.5pt; color: #555; }}
</style></head><body>{pages}</body></html>"""


async def print_html(context, markup):
    """Print a document given as HTML (no outline, the @page size inside it)."""
    page = await context.new_page()
    try:
        await page.set_content(markup, wait_until="load")
        await page.evaluate("document.fonts.ready")
        await page.emulate_media(media="print")
        return await page.pdf(print_background=True, prefer_css_page_size=True, **A4)
    finally:
        await page.close()


async def print_book(site, browser_path):
    """Print every page and the front matter; returns the PDF's bytes and a summary."""
    from playwright.async_api import async_playwright

    config = load_config()
    public = public_url(config)
    parts = toc_parts()
    names = [name for _, pages in parts for name in pages]
    started = time.monotonic()
    with serve(site) as base:
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(
                executable_path=browser_path, headless=True, args=["--no-sandbox", "--disable-gpu"]
            )
            context = await browser.new_context(viewport={"width": 1280, "height": 900}, color_scheme="light")
            context.set_default_timeout(120_000)  # 2 cores shared with other work: a page can take a while to load
            await context.route(
                "**/*",
                lambda route: route.continue_()
                if route.request.url.startswith((base, "data:", "blob:"))
                else route.abort(),
            )
            limit = asyncio.Semaphore(PAGES_AT_ONCE)

            async def one(name):
                async with limit:
                    return await print_page(context, base, name, public)

            printed = dict(zip(names, await asyncio.gather(*(one(name) for name in names))))
            readers = {name: PdfReader(io.BytesIO(data)) for name, (data, _) in printed.items()}

            def entries(front_pages):
                rows, number = [], front_pages + 1
                for caption, pages in parts:
                    if caption:
                        rows.append(("part", caption, "", ""))
                    for name in pages:
                        rows.append(("chapter", printed[name][1]["title"], str(number), f"{public}{name}.html"))
                        number += len(readers[name].pages)
                return rows

            # The contents' length does not depend on the page numbers in it: print once to count its pages.
            trial = PdfReader(io.BytesIO(await print_html(context, front_matter_html(config, public, entries(2)))))
            front = PdfReader(
                io.BytesIO(await print_html(context, front_matter_html(config, public, entries(len(trial.pages)))))
            )
            total = len(front.pages) + sum(len(reader.pages) for reader in readers.values())
            labels = [""] + [f"{n}" for n in range(2, total + 1)]
            position = len(front.pages)
            for name in names:
                title = printed[name][1]["title"]
                for _ in readers[name].pages:
                    position += 1
                    labels[position - 1] = f"{title} \u00b7 {position}"
            footers = PdfReader(io.BytesIO(await print_html(context, footer_html(labels))))
            await browser.close()
    printed_at = time.monotonic() - started

    writer = PdfWriter()
    writer.append(front, import_outline=False)
    writer.add_outline_item(title="Contents", page_number=len(front.pages) - 1)
    start = len(front.pages)
    first_pages = {}
    for caption, pages in parts:
        parent = writer.add_outline_item(title=caption, page_number=start, fit=Fit.fit()) if caption else None
        for name in pages:
            reader = readers[name]
            chapter = writer.add_outline_item(title=printed[name][1]["title"], page_number=start, parent=parent, fit=Fit.fit())
            writer.append(reader, import_outline=False)
            first_pages[f"{public}{name}.html"] = start
            for item in _sections(reader):
                writer.add_outline_item(title=item[0], page_number=start + item[1], parent=chapter)
            start += len(reader.pages)
    _link_contents_to_pages(writer, len(front.pages), first_pages)
    if len(footers.pages) != len(writer.pages):
        raise RuntimeError(f"page numbers for {len(footers.pages)} pages, but the book has {len(writer.pages)}")
    for index, page in enumerate(writer.pages):
        if index:
            page.merge_page(footers.pages[index])
        page.compress_content_streams()  # merging leaves the page's content uncompressed
    writer.compress_identical_objects(remove_duplicates=True, remove_unreferenced=True)
    writer.add_metadata({"/Title": config["title"], "/Author": config.get("author", "")})
    writer.page_mode = "/UseOutlines"
    buffer = io.BytesIO()
    writer.write(buffer)
    summary = {
        "pages": len(writer.pages),
        "chapters": {name: len(readers[name].pages) for name in names},
        "widgets": sum(printed[name][1]["widgets"] for name in names),
        "printing_seconds": round(printed_at, 1),
    }
    return buffer.getvalue(), summary


def _link_contents_to_pages(writer, front_pages, first_pages):
    """Turn the contents' links to the chapters' web pages into links to the pages where they start in the PDF."""
    for page in writer.pages[:front_pages]:
        for annotation in page.get("/Annots") or []:
            annotation = annotation.get_object()
            action = annotation.get("/A")
            target = first_pages.get(str(action.get("/URI"))) if action is not None else None
            if target is not None:
                del annotation["/A"]
                annotation[NameObject("/Dest")] = ArrayObject(
                    [writer.pages[target].indirect_reference, NameObject("/Fit")]
                )


def _sections(reader):
    """(title, page index) of the second-level headings in one printed page's own outline (from Chromium)."""
    found = []

    def walk(items, depth):
        for item in items:
            if isinstance(item, list):
                walk(item, depth + 1)
            elif depth == 1:
                found.append((item.title, reader.get_destination_page_number(item)))

    walk(reader.outline, 0)
    return found


STAMP_NAME = ".inputs.sha256"  # beside the PDF: the fingerprint of what it was printed from (tools/fingerprint.py)


def inputs_digest(site, browser):
    """The fingerprint of what the PDF is made of: the site (but the PDF it carries), the tools that print it, and
    the browser that prints it."""
    browser_file = pathlib.Path(browser).resolve()
    inputs = files_under(site, skip={PDF_NAME}) + [ROOT / "tools" / name for name in (
        "pdf.py", "serving.py", "notebooks.py", "book_config.py", "fingerprint.py")] + [ROOT / "_config.yml"]
    return fingerprint(inputs, [str(browser_file), browser_file.stat().st_size, browser_file.stat().st_mtime_ns])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--site", type=pathlib.Path, default=SITE, help="the built site (default _build/html)")
    parser.add_argument("--out", type=pathlib.Path, default=OUT, help="the folder the PDF goes to (default _build/pdf)")
    parser.add_argument("--force", action="store_true", help="print even if the site has not changed since the last PDF")
    args = parser.parse_args(argv)
    try:
        if not (args.site / "index.html").is_file():
            raise Missing(f"{args.site} has no built site: run `make book` first (make pdf does).")
        browser = find_browser(os.environ.get("CHROMIUM"))
        if browser is None:
            raise Missing("no Chromium found: run `make pdf`, which finds or installs one (tools/preflight.py).")
    except Missing as missing:
        print(f"error: {missing}", file=sys.stderr)
        return 2
    target = args.out / PDF_NAME
    digest = inputs_digest(args.site, browser)
    stamp = args.out / STAMP_NAME
    if not args.force and up_to_date(stamp, digest, [target]):
        shutil.copyfile(target, args.site / PDF_NAME)  # a rebuilt site may have lost its copy
        print(f"{target.relative_to(ROOT) if target.is_relative_to(ROOT) else target}: up to date (the site and "
              f"the tools are as they were when it was printed; --force prints anyway)")
        return 0
    started = time.monotonic()
    data, summary = asyncio.run(print_book(args.site, browser))
    args.out.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    shutil.copyfile(target, args.site / PDF_NAME)
    mark_built(stamp, digest)
    print(
        f"{target.relative_to(ROOT) if target.is_relative_to(ROOT) else target}: {summary['pages']} pages, "
        f"{len(summary['chapters'])} pages of the site, {summary['widgets']} explorables, "
        f"{time.monotonic() - started:.1f} s (printing {summary['printing_seconds']} s); copied into the site"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
