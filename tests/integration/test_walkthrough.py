"""The README's walk through a request's life runs, as written, against the app served by gunicorn."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

from service.wechat.fake import FakeWeChatServer

ROOT = Path(__file__).parents[2]
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_walkthrough_script_against_gunicorn(tmp_path):
    port = free_port()
    with FakeWeChatServer() as wechat:
        env = {**os.environ, "CIVICDESK_ENV": "development",
               "CIVICDESK_DATABASE_URL": f"sqlite:///{tmp_path / 'walkthrough.sqlite3'}",
               "CIVICDESK_UPLOAD_DIR": str(tmp_path / "uploads"), "CIVICDESK_WECHAT_BASE_URL": wechat.base_url,
               "CIVICDESK_WORKERS": "2", "CIVICDESK_DEMO_PASSWORD": "civicdesk-demo"}
        env.pop("CIVICDESK_TEST_DATABASE_URL", None)
        for command in (["db", "upgrade"], ["demo", "load"]):
            subprocess.run([str(BIN / "civicdesk"), *command], env=env, check=True, capture_output=True, cwd=ROOT)
        server = subprocess.Popen([str(BIN / "gunicorn"), "-c", "gunicorn.conf.py", "-b", f"127.0.0.1:{port}",
                                   "wsgi:app"], env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                try:
                    if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                        break
                except requests.RequestException:
                    time.sleep(0.2)
            result = subprocess.run(["bash", "scripts/walkthrough.sh"], env={**env, "BASE": f"http://127.0.0.1:{port}"},
                                    cwd=ROOT, capture_output=True, text=True, timeout=60)
        finally:
            server.terminate()
            server.wait(timeout=30)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("submitted request ")
    assert lines[2] == "completed"
    assert lines[3] == "已修复"
    assert "'action': 'complete'" in lines[4]
    assert lines[5] == "5"
