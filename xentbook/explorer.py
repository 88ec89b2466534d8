"""Where the overflow explorer used to live: it is now ``xentbook.explorables.overflow`` (kept importable here so
that a notebook written against the old name still runs)."""

from xentbook.explorables.overflow import *  # noqa: F401,F403
from xentbook.explorables.overflow import __all__  # noqa: F401
