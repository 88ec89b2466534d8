"""A stand-in for Colab's `google.colab` package, for the Colab-like run of the edition (tests/test_colab.py).

In Colab this package is always imported before the first cell runs; sitecustomize.py beside `google/` does the
same here. Only what the book's set-up cell calls exists.
"""
