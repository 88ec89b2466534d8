"""Serve a folder on 127.0.0.1 for a while: the built site for the PDF printer, the site and slides for the tests."""

import contextlib
import functools
import http.server
import threading


# The start of an async page script that waits for a served page of the book to settle: its widgets rendered
# (assets/site/widgets.js sets data-widgets-ready) and MathJax typeset. It leaves `root`, the <html> element, defined.
WAIT_FOR_WIDGETS_AND_MATH = """  const root = document.documentElement;
  if (document.querySelector('script[type*="widget-state"]')) {
    for (let i = 0; i < 600 && !root.dataset.widgetsReady; i++) await new Promise(r => setTimeout(r, 50));
  }
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) await MathJax.startup.promise;
"""


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@contextlib.contextmanager
def serve(directory):
    """Serve a folder over HTTP on 127.0.0.1 (a free port) for as long as the block runs; yields its base URL."""
    handler = functools.partial(_QuietHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
