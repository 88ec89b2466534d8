"""Shared code for the cross-entropy book.

The lessons live in the chapters; this package keeps what several chapters reuse:
``scratch`` (the from-scratch functions, exactly as the chapters define them),
``explorer`` (the overflow explorer: its plain logic and its widget) and ``plots``.
"""
