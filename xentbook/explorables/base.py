"""What every explorable shares on the Python side: the widget base class, the front-end bundler, and the Python
twins of the front end's number parsing and printing (``ui.js``), so that both sides print the same words."""

import math
import pathlib
import re
from dataclasses import dataclass, field
from typing import ClassVar

import anywidget
import torch
import traitlets

HERE = pathlib.Path(__file__).parent
# `import { a, b } from "./name.js";` at the start of a line: the shared modules a front end uses.
_IMPORT = re.compile(r'^import\s*\{[^}]*\}\s*from\s*"\./([\w.-]+\.js)";[ \t]*\n', re.M)
_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


def bundle(entry):
    """One ES module from a front end and the shared modules it imports (each once, imports first).

    anywidget hands its ``_esm`` to the page as a single string, loaded from a Blob URL, where a relative
    ``import`` cannot reach another file: so the imports are inlined. The files stay real modules on disk."""
    order = []

    def add(path):
        if path in order:
            return
        for name in _IMPORT.findall(path.read_text()):
            add(path.with_name(name))
        order.append(path)

    add(pathlib.Path(entry))
    return "\n".join(f"// ---- {path.name}\n" + _compact(_IMPORT.sub("", path.read_text())) for path in order)


def _compact(source):
    """The source without its comment lines and indentation: every page carries it in its widget state.

    (Safe for the front ends here, which keep no line break inside a string; the browser tests run the result.)"""
    lines = (line.strip() for line in source.splitlines())
    return "\n".join(line for line in lines if line and not line.startswith("//")) + "\n"


def fmt(x, digits=4):
    """A float as the explorables print it (Python's %g), the twin of ui.js's fmt."""
    return f"{x:.{digits}g}"


def capital(text):
    """A sentence as it is shown: its first letter a capital (the twin of ui.js's capital)."""
    return text[:1].upper() + text[1:]


def parse_number(value, name, example="70"):
    """Read a number typed by a reader: (value, None) if usable, (None, message) if not (twin of ui.js).

    The message starts with a capital."""
    number, problem = _parse_number(value, name, example)
    return (number, None) if problem is None else (None, capital(problem))


def _parse_number(value, name, example):
    if isinstance(value, bool):
        return None, f"{name} must be a number, not {value}."
    if isinstance(value, (int, float)):
        text = repr(float(value))
    else:
        text = str(value).strip()
    lowered = text.lower().lstrip("+-")
    if lowered == "nan":
        return None, f"{name} is NaN (not a number): type a finite number such as {example}."
    if lowered in ("inf", "infinity"):
        return None, f"{name} is infinite: type a finite number such as {example}."
    if not _NUMBER.match(text):
        return None, f"{name} must be a number such as {example} or 1e4, not {text!r}."
    number = float(text)
    if not math.isfinite(number):
        return None, f"{name} {text} is beyond any floating-point range: type a smaller number."
    return number, None


UNITS = ((1e12, "TB"), (1e9, "GB"), (1e6, "MB"), (1e3, "kB"))


def size(n):
    """A byte count as the explorables print it: 4 significant digits and a decimal unit (the twin of ui.js)."""
    for unit, name in UNITS:
        if n >= unit:
            return f"{fmt(n / unit)} {name}"
    return f"{fmt(n)} B"


def whole_numbers(inputs, names, labels, examples, limits):
    """The named fields as whole numbers from 1 to their limit: (numbers, None), or (None, message) saying what to
    type in the first field that is not one (the twin of ui.js's wholeNumbers)."""
    numbers = {}
    for name in names:
        value, problem = parse_number(inputs[name], labels[name], examples[name])
        if problem:
            return None, problem
        if value != int(value) or not 1 <= value <= limits[name]:
            return None, capital(f"{labels[name]} must be a whole number from 1 to {limits[name]}, not {inputs[name]!s}.")
        numbers[name] = int(value)
    return numbers, None


def times(ratio, what):
    """A ratio in words: "0.25 of the plain path's", or "114.1 times the plain path's" when it is more than 1 (the
    twin of ui.js's times)."""
    return f"{fmt(ratio)} of {what}" if ratio <= 1 else f"{fmt(ratio)} times {what}"


def json_number(x):
    """A float for JSON: non-finite values as the strings 'nan', 'inf', '-inf' (ui.js's fromJson reads them)."""
    x = float(x)
    return x if math.isfinite(x) else ("nan" if math.isnan(x) else ("inf" if x > 0 else "-inf"))


@dataclass(frozen=True)
class Result:
    """What an explorable computes for one setting of its controls: the numbers (tensors in ``format``, or
    floats) and the sentence under the figure. The front end's ``compute`` returns the same keys."""

    ok: bool
    message: str
    format: str = "float32"
    values: dict = field(default_factory=dict)

    def to_json(self):
        def plain(v):
            if isinstance(v, torch.Tensor):
                return [json_number(x) for x in v.flatten().tolist()] if v.dim() else json_number(v.item())
            if isinstance(v, (list, tuple)):
                return [json_number(x) for x in v]
            return json_number(v)

        return {"ok": self.ok, "message": self.message, "format": self.format,
                "values": {k: plain(v) for k, v in self.values.items()}}


class Explorable(anywidget.AnyWidget):
    """An explorable: controls (synced traits, listed in INPUTS) and a figure, live with or without a kernel.

    A subclass names its front end (``front_end = "name.js"``, beside this file; its own styles in
    ``style = "name.css"``) and implements ``compute(inputs) -> Result`` with torch. The front end exports
    ``compute(inputs)``, its twin in the browser, and ``render`` for anywidget. With a kernel, every change of a
    control is answered here by torch into the ``kernel`` trait, which the front end shows beside its own numbers.
    """

    front_end: ClassVar[str] = ""
    style: ClassVar[str] = ""
    INPUTS: ClassVar[tuple] = ()

    kernel = traitlets.Dict().tag(sync=True)  # torch's answer for the inputs it names

    def __init_subclass__(cls, **kwargs):
        if cls.__dict__.get("front_end"):
            cls._esm = bundle(HERE / cls.front_end)
            cls._css = "\n".join((HERE / name).read_text() for name in ("base.css", cls.style) if name)
        super().__init_subclass__(**kwargs)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.observe(self._recompute, names=list(self.INPUTS))
        self._recompute()

    @classmethod
    def compute(cls, inputs):
        """torch's numbers and words for one setting of the controls (a Result)."""
        raise NotImplementedError

    def inputs(self):
        """The controls' current values, as the front end sees them."""
        return {name: getattr(self, name) for name in self.INPUTS}

    def _recompute(self, change=None):
        inputs = self.inputs()
        self.kernel = {"inputs": inputs, **self.compute(inputs).to_json()}

    def __repr__(self):
        settings = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.INPUTS)
        return f"{type(self).__name__}({settings})"

    def _repr_mimebundle_(self, **kwargs):
        """What a notebook shows: the live view (the widget's own MIME type) and, for a notebook whose widgets have
        not come to life (opened in JupyterLab or Colab before this cell ran), words that say how (text/plain)."""
        bundle = super()._repr_mimebundle_(**kwargs)  # anywidget's (data, metadata)
        if bundle is None:
            return None
        data, metadata = bundle if isinstance(bundle, tuple) else (bundle, {})
        return {**data, "text/plain": self.placeholder()}, metadata

    def placeholder(self):
        """The text shown in place of the explorable until its cell runs (a notebook's text/plain output)."""
        return (f"{type(self).__name__}: an interactive figure. Run this cell (with the cells above it) to bring it to "
                "life here; on the book's website it is live without a kernel.")
