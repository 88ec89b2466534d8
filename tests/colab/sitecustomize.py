"""Import the `google.colab` stand-in at start-up, as Colab's kernel has it imported before any cell runs."""

import google.colab  # noqa: F401
