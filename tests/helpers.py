"""Small helpers several test files share (fixtures live in conftest.py)."""

import socket


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
