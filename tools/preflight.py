"""What the two commands need from the machine, checked before anything is built (standard library only).

    python tools/preflight.py python     stop unless this Python is 3.11 or newer (the pins need it)
    python tools/preflight.py npm        stop unless npm is on PATH (the site's MathJax and the slides come from npm)
    python tools/preflight.py chromium   print the browser the tests drive; install Debian's when allowed
    python tools/preflight.py poppler    print the folder of pdftotext, pdfinfo, pdftoppm (the PDF's test reads it
                                         with them); install Debian's poppler-utils when allowed

The browser is, in order: the CHROMIUM setting (`make test CHROMIUM=/path/to/chrome`), then the first of the usual
names on PATH. Only when neither gives one, and this is Debian or Ubuntu run as root, is `chromium` installed with
apt-get. Anywhere else the command stops with a message that says what to install and how to point the tests at it.
Each failure exits with status 2 and one message, never a traceback.
"""

import os
import pathlib
import shutil
import subprocess
import sys

MINIMUM_PYTHON = (3, 11)
POPPLER_TOOLS = ("pdftotext", "pdfinfo", "pdftoppm")
BROWSER_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
OS_RELEASE = pathlib.Path("/etc/os-release")


class Missing(Exception):
    """Something the commands need is not on this machine; the message says what to do."""


def check_python(version=sys.version_info):
    """The running Python, if it is new enough for requirements.txt."""
    if tuple(version[:2]) < MINIMUM_PYTHON:
        raise Missing(
            f"Python {version[0]}.{version[1]} is too old: the pinned packages need Python "
            f"{MINIMUM_PYTHON[0]}.{MINIMUM_PYTHON[1]} or newer. Install one and run "
            f"`make PYTHON=python3.11 ...` (any 3.11+ interpreter)."
        )
    return f"{version[0]}.{version[1]}"


def check_npm():
    """The path of npm, which installs the site's pinned front-end packages (MathJax, reveal.js)."""
    npm = shutil.which("npm")
    if npm is None:
        raise Missing(
            "npm is not on PATH: the site's MathJax and the slides' reveal.js are installed from the npm registry "
            "(assets/package-lock.json). Install Node.js 18 or newer with npm (Debian/Ubuntu: "
            "`apt-get install nodejs npm`; elsewhere from your package manager), then run the command again."
        )
    return npm


def is_debian_like(os_release=OS_RELEASE):
    """True on Debian, Ubuntu and their derivatives (where apt-get's `chromium` is the browser)."""
    try:
        fields = dict(
            line.split("=", 1) for line in os_release.read_text().splitlines() if "=" in line
        )
    except OSError:
        return False
    names = f"{fields.get('ID', '')} {fields.get('ID_LIKE', '')}".replace('"', "").split()
    return bool({"debian", "ubuntu"} & set(names))


def find_browser(setting=None):
    """The browser's path: the CHROMIUM setting if given, else the first usual name on PATH, else None."""
    if setting:
        found = shutil.which(setting)
        if found is None:
            raise Missing(f"CHROMIUM={setting} is not an executable browser. Point it at Chromium or Chrome.")
        return found
    for name in BROWSER_NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


def check_chromium(setting=None, may_install=None):
    """The browser's path, installing Debian's chromium with apt-get when that is allowed and nothing is found."""
    found = find_browser(setting)
    if found:
        return found
    if not _may_install(may_install):
        raise Missing(
            "No Chromium or Chrome found (looked for " + ", ".join(BROWSER_NAMES) + " on PATH). The tests drive a "
            "real browser with Playwright. Install Chromium (Debian/Ubuntu: `sudo apt-get install chromium`; "
            "macOS: `brew install --cask chromium`), or point the tests at one you have: "
            "`make test CHROMIUM=/path/to/chrome`."
        )
    return _apt_install("chromium", "the tests drive it with Playwright", find_browser,
                        "install chromium yourself, or set CHROMIUM=/path/to/chrome.")


def find_poppler():
    """The folder holding all of poppler's pdftotext, pdfinfo and pdftoppm on PATH, or None."""
    found = [shutil.which(tool) for tool in POPPLER_TOOLS]
    if None in found:
        return None
    return os.path.dirname(found[0])


def check_poppler(may_install=None):
    """poppler's tools (the PDF test reads the book's PDF with them), installing Debian's when that is allowed."""
    found = find_poppler()
    if found:
        return found
    if not _may_install(may_install):
        raise Missing(
            "poppler's " + ", ".join(POPPLER_TOOLS) + " are not all on PATH: the PDF test reads the book's PDF with "
            "them. Install poppler (Debian/Ubuntu: `sudo apt-get install poppler-utils`; macOS: `brew install "
            "poppler`; Fedora: `sudo dnf install poppler-utils`), then run the command again."
        )
    return _apt_install("poppler-utils", "the PDF test reads the PDF with it", find_poppler,
                        "install poppler-utils yourself.")


def _may_install(may_install=None):
    """Whether a missing tool may be installed here: as root on Debian or Ubuntu, with apt-get (unless told)."""
    if may_install is None:
        return hasattr(os, "geteuid") and os.geteuid() == 0 and is_debian_like() and bool(shutil.which("apt-get"))
    return may_install


def _apt_install(package, why, find, otherwise):
    """Install one of Debian's packages with apt-get, then find what it brings; Missing if either fails."""
    print(f"installing Debian's {package} with apt-get ({why})", file=sys.stderr)
    for command in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", package]):
        if subprocess.run(command, stdout=sys.stderr).returncode != 0:
            raise Missing(f"`{' '.join(command)}` failed: {otherwise}")
    found = find()
    if found is None:
        raise Missing(f"apt-get installed {package} but what the commands need is not on PATH: {otherwise}")
    return found


CHECKS = {
    "python": check_python,
    "npm": check_npm,
    "chromium": lambda: check_chromium(os.environ.get("CHROMIUM")),
    "poppler": check_poppler,
}


def main(argv=None):
    """Run one check; print its result, or the message and exit 2."""
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1 or argv[0] not in CHECKS:
        print(__doc__, file=sys.stderr)
        return 2
    try:
        print(CHECKS[argv[0]]())
    except Missing as missing:
        print(f"error: {missing}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
