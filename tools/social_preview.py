"""A local Sphinx extension: the site's favicon and the preview a shared link shows (Open Graph and Twitter cards).

sphinxext-opengraph (pinned in requirements.txt) writes each page's og:title, og:description (the page's first
words), og:url and og:image. This extension sets it up from the one place the site's address lives, `html.baseurl`
in _config.yml, so no second copy of the address can drift: the image is assets/site/preview.png, served as
_static/preview.png, at its absolute address on the site, and a `twitter:card` of the large-image kind goes with it.
The tags only describe the page; the browser loads nothing for them (the site still loads nothing from outside).

    python tools/social_preview.py    redraw assets/site/favicon.png and assets/site/preview.png (Pillow, DejaVu)

The preview shows the book's title beside the screenshot of an explorable that the README shows
(assets/readme/explorable.png).
"""

import html
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
SITE_ASSETS = ROOT / "assets" / "site"
FAVICON = SITE_ASSETS / "favicon.png"
PREVIEW = SITE_ASSETS / "preview.png"
SCREENSHOT = ROOT / "assets" / "readme" / "explorable.png"
PREVIEW_SIZE = (1200, 630)  # the size Open Graph and Twitter's large card show without cropping
DESCRIPTION = "executed notebooks, live explorables, every number printed by code."  # the preview's words
INK, PAPER, ACCENT = (33, 37, 41), (255, 255, 255), (180, 35, 45)


def _fill_from_the_sites_address(app, config):
    """Point sphinxext-opengraph at html_baseurl (Jupyter Book's html.baseurl) and the preview image."""
    base = (config.html_baseurl or "").rstrip("/") + "/"
    title = config.html_title or config.project  # Jupyter Book puts the book's `title` in html_title
    config.ogp_site_url = base
    config.ogp_image = f"{base}_static/{PREVIEW.name}"
    config.ogp_image_alt = f"{title}: the book's title beside one of its explorables"
    config.ogp_site_name = title
    config.ogp_social_cards = {"enable": False}  # our own preview, not a card drawn per page with matplotlib
    # Twitter (X) reads og:title, og:description and og:image; it needs only to be told the card's kind.
    config.ogp_custom_meta_tags = ['<meta name="twitter:card" content="summary_large_image" />']


SHARED_TAGS = re.compile(r'<meta (?:property="og:|name="twitter:|name="description")[^>]*>')


def _give_the_root_redirect_a_preview(app, exception):
    """The site's root address is a one-line redirect (sphinx-external-toc writes it when the landing page is not
    index): link previewers read it without following the redirect, so it gets the landing page's tags."""
    if exception is not None or app.builder.format != "html":
        return
    root = pathlib.Path(app.outdir) / "index.html"
    landing = f"{app.config.root_doc}.html"
    redirect = f'<meta http-equiv="Refresh" content="0; url={landing}" />'
    if not root.exists() or root.read_text(encoding="utf8").strip() != redirect:
        return
    page = (pathlib.Path(app.outdir) / landing).read_text(encoding="utf8")
    title = html.escape(app.config.html_title or app.config.project)
    tags = "\n".join(SHARED_TAGS.findall(page))
    root.write_text(
        f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8" />\n<title>{title}</title>\n{tags}\n'
        f'<link rel="icon" href="_static/{FAVICON.name}" />\n{redirect}\n</head>\n'
        f'<body><p><a href="{landing}">{title}</a></p></body>\n</html>\n',
        encoding="utf8",
    )


def setup(app):
    app.setup_extension("sphinxext.opengraph")
    app.connect("config-inited", _fill_from_the_sites_address, priority=400)
    app.connect("build-finished", _give_the_root_redirect_a_preview, priority=900)  # after the redirect is written
    return {"parallel_read_safe": True, "parallel_write_safe": True}


# --- Drawing the two images -------------------------------------------------------------------------------------


def _font(bold, size):
    """DejaVu Sans (shipped with matplotlib, which the book pins) at a size in pixels."""
    import matplotlib
    from PIL import ImageFont

    name = "DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"
    return ImageFont.truetype(str(pathlib.Path(matplotlib.get_data_path()) / "fonts" / "ttf" / name), size)


def _sigmoid_points(left, top, width, height, steps=64):
    """A logistic curve across a box, as a polyline."""
    import math

    points = []
    for k in range(steps + 1):
        x = -6 + 12 * k / steps
        y = 1 / (1 + math.exp(-x))
        points.append((left + width * k / steps, top + height * (1 - y)))
    return points


def draw_favicon(path=FAVICON, size=64):
    """A sigmoid in the accent colour on a dark rounded square."""
    from PIL import Image, ImageDraw

    image = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    draw.rounded_rectangle((0, 0, size - 1, size - 1), radius=size // 6, fill=INK)
    margin = size // 8
    draw.line(_sigmoid_points(margin, margin, size - 2 * margin, size - 2 * margin), fill=(255, 120, 110),
              width=max(2, size // 12), joint="curve")
    image.save(path, optimize=True)
    return path


def draw_preview(path=PREVIEW, title="Cross entropy", subtitle="from the sigmoid to F.cross_entropy"):
    """The book's title and description on the left, the explorable's screenshot on the right."""
    import textwrap

    from PIL import Image, ImageDraw

    width, height = PREVIEW_SIZE
    image = Image.new("RGB", PREVIEW_SIZE, PAPER)
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, width, 12), fill=ACCENT)
    shot = Image.open(SCREENSHOT).convert("RGB")
    shot.thumbnail((560, height - 90))
    image.paste(shot, (width - shot.width - 40, (height - shot.height) // 2 + 6))
    draw.rectangle((width - shot.width - 41, (height - shot.height) // 2 + 5, width - 39,
                    (height - shot.height) // 2 + shot.height + 6), outline=(200, 200, 200))
    left = 56
    draw.line(_sigmoid_points(left, 70, 150, 90), fill=ACCENT, width=6, joint="curve")
    draw.text((left, 200), title, font=_font(True, 64), fill=INK)
    draw.text((left, 280), subtitle, font=_font(False, 28), fill=INK)
    y = 350
    for line in textwrap.wrap(DESCRIPTION.capitalize(), 36):
        draw.text((left, y), line, font=_font(False, 24), fill=(90, 90, 90))
        y += 34
    draw.text((left, height - 70), "An interactive book about PyTorch", font=_font(False, 22), fill=(120, 120, 120))
    image.quantize(colors=128).save(path, optimize=True)
    return path


if __name__ == "__main__":
    for drawn in (draw_favicon(), draw_preview()):
        print(f"wrote {drawn.relative_to(ROOT)}")
    sys.exit(0)
