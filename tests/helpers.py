"""Small helpers several test files share (fixtures live in conftest.py)."""

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

JUPYTERLAB_TOKEN = "xentbook-test"


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def jupyterlab(folder, tmp_path, settings):
    """A real JupyterLab on 127.0.0.1 serving `folder`, with these user settings ({"plugin/id": {...}}); yields its
    base URL (the token is JUPYTERLAB_TOKEN) and stops the server afterwards."""
    config = tmp_path / ".config"
    for name, values in settings.items():
        path = config / "lab" / "user-settings" / "@jupyterlab" / f"{name}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))
    port = free_port()
    log = tmp_path / "jupyterlab.log"
    env = dict(os.environ, JUPYTER_CONFIG_DIR=str(config), JUPYTER_RUNTIME_DIR=str(tmp_path / ".run"))
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
         f"--ServerApp.root_dir={folder}", f"--IdentityProvider.token={JUPYTERLAB_TOKEN}",
         "--allow-root", "--LabApp.extension_manager=readonly"],
        cwd=folder, env=env, stdout=subprocess.DEVNULL, stderr=log.open("w"),  # a file: a full pipe would stall it
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(f"{base}/api/status?token={JUPYTERLAB_TOKEN}", timeout=2)
            break
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                server.kill()
                pytest.fail(f"JupyterLab did not start: {log.read_text()[-3000:]}")
            time.sleep(0.5)
    try:
        yield base
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
