"""Skip a build whose inputs have not changed since it last ran (`make slides` and `make pdf`; `make test` runs both).

A build's fingerprint is a SHA-256 over the bytes of every input file (and their paths) plus a few settings; the
build writes it next to its output when it has finished, and the next run with the same fingerprint and the outputs
still there does nothing. Content, not modification times: `make book` rewrites the site with the same bytes, and
that must not force a reprint. `--force` on either tool rebuilds anyway.
"""

import hashlib
import pathlib


def fingerprint(files, settings=()):
    """SHA-256 (hex) of the files' paths and bytes, in sorted order, and of the settings' text."""
    digest = hashlib.sha256()
    for path in sorted({pathlib.Path(f) for f in files}):
        digest.update(str(path).encode() + b"\0")
        digest.update(path.read_bytes() if path.is_file() else b"(missing)")
        digest.update(b"\0")
    for setting in settings:
        digest.update(repr(setting).encode() + b"\0")
    return digest.hexdigest()


def files_under(*folders, skip=()):
    """Every file under the folders (recursively), leaving out those whose name is in skip."""
    return [path for folder in folders for path in pathlib.Path(folder).rglob("*")
            if path.is_file() and path.name not in skip]


def up_to_date(stamp, digest, outputs):
    """True if the stamp file holds this digest and every output exists."""
    stamp = pathlib.Path(stamp)
    return stamp.is_file() and stamp.read_text().strip() == digest and all(pathlib.Path(o).exists() for o in outputs)


def mark_built(stamp, digest):
    """Record that the outputs were built from inputs with this digest."""
    stamp = pathlib.Path(stamp)
    stamp.parent.mkdir(parents=True, exist_ok=True)
    stamp.write_text(digest + "\n")
