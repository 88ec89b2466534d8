"""The book's explorables: one figure per chapter that a reader can move, live with or without a kernel.

Each explorable is three files in this folder, and adding another is copying a pattern:

``name.py``
    The plain logic with torch, ``compute(inputs) -> Result`` (``ok``, the ``message`` printed under the figure,
    the number ``format``, the ``values`` as tensors), and the widget: a subclass of ``base.Explorable`` with
    ``front_end = "name.js"``, ``style = "name.css"``, ``INPUTS`` (the names of its synced traits, what the reader
    sets) and those traits. With a kernel, every change of an input is answered by torch into the ``kernel`` trait.
``name.js``
    The front end, an ES module. It exports ``compute(inputs, state)``, the twin of the Python ``compute``
    (same keys, same words, every operation rounded to the format), and ``render`` for anywidget. It imports what
    it shares from ``./formats.js`` (float16, bfloat16 and float32 rounding: ``roundTo``, ``op``, ``sum``) and
    ``./ui.js`` (``parseNumber``, ``wholeNumbers``, ``fmt``, ``size``, ``frame``, ``numberControl``,
    ``selectControl``, ``bind``, ``show``, ``report``, ``kernelNote``, ``live``; and for figures that fit any screen,
    ``drawnWidth``, ``fitTable``, ``placeLabels``, ``textBox``, ``spotsAround``, ``times``, ``capital``); ``base.bundle`` inlines those imports into the one string anywidget sends to
    the page (a module loaded from a Blob URL cannot import a relative file), on the static site
    (``assets/site/widgets.js``) and in JupyterLab or Colab alike.
``name.css``
    Its own styles, after the shared ``base.css``.

Chapter 1: ``bce.BCEExplorer``; chapter 2: ``softmax.SoftmaxExplorer``; chapter 3: ``naive.NaiveLossExplorer``;
chapters 4 and 7: ``overflow.OverflowExplorer``; chapter 5: ``pipeline.PipelineExplorable``; chapter 6:
``smoothing.SmoothingExplorable``; chapter 8: ``gradients.GradientsExplorable``; chapter 9:
``margin.MarginExplorable``; chapter 10: ``memory.MemoryExplorable``; chapter 11: ``chunks.ChunksExplorable``; chapter 12: ``calibration.CalibrationExplorable``; chapter 13:
``bigram.BigramExplorable``.

The view follows ``ui.frame``: a labelled group ``.xent-explorable[data-explorable=name]`` holding the controls
(each with an accessible name), the figure, one ``role=status`` line saying what happened, and a line saying who
computed it. After each update the root's ``data-inputs`` holds the inputs as JSON. ``tests/explorables.py``
then checks any explorable with a few lines (an ``Explorable`` entry: its page, its widget class and a grid of
inputs): the page's JavaScript against torch on the grid, every control by keyboard, bad input, accessible names,
light and dark mode, a 390 px screen, the latency of a move, and what a reader sees at 390 and 1280 px (text
size, overlaps, cut-off boxes, plotted values against the words), with screenshots.
"""

from xentbook.explorables.base import Explorable, Result, bundle, fmt, parse_number
from xentbook.explorables.bce import BCEExplorer
from xentbook.explorables.naive import NaiveLossExplorer
from xentbook.explorables.overflow import OverflowExplorer, exp_overflow_threshold, explore
from xentbook.explorables.softmax import SoftmaxExplorer

__all__ = ["BCEExplorer", "Explorable", "NaiveLossExplorer", "OverflowExplorer", "Result", "SoftmaxExplorer", "bundle",
           "exp_overflow_threshold", "explore", "fmt", "parse_number"]
