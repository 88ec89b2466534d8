"""Shared code for the cross-entropy book.

The lessons live in the chapters; this package keeps what several chapters reuse:
``scratch`` (the from-scratch functions, exactly as the chapters define them),
``explorables`` (the figures a reader can move: their plain logic with torch and their widgets).
"""
