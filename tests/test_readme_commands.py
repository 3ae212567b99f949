"""The README's run command (`bash scripts/start.sh`) brings up a page that classifies a face."""

from __future__ import annotations

import re
import socket
import subprocess
import time

import pytest

from tests.browser import analyse_photo, wait_until_loaded
from tests.conftest import REPO

README = (REPO / "README.md").read_text()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_readme_names_the_two_commands() -> None:
    assert re.search(r"^bash scripts/start\.sh$", README, re.MULTILINE)
    assert re.search(r"^bash scripts/test\.sh$", README, re.MULTILINE)
    assert "bash scripts/test.sh" in (REPO / ".ci" / "run").read_text()


def test_start_command_serves_a_page_that_classifies_a_face(browser, pictures, metadata) -> None:
    port = free_port()
    server = subprocess.Popen(["bash", "scripts/start.sh", "--host", "127.0.0.1", "--port", str(port)], cwd=REPO,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.time() + 600  # a first run installs the Python and npm packages
        while time.time() < deadline:
            if server.poll() is not None:
                pytest.fail(f"scripts/start.sh exited with {server.returncode}:\n{server.stdout.read()[-3000:]}")
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.5)
        else:
            pytest.fail("scripts/start.sh did not start serving within 10 minutes")
        page = browser.new_page()
        page.goto(f"http://127.0.0.1:{port}/")
        assert wait_until_loaded(page) == "ready"
        result = analyse_photo(page, pictures / "astronaut.png")
        assert len(result["faces"]) == 1
        probabilities = result["faces"][0]["probabilities"]
        assert [entry["label"] for entry in probabilities] == metadata["labels"]
        assert sum(entry["probability"] for entry in probabilities) == pytest.approx(1, abs=1e-3)
        page.close()
    finally:
        server.terminate()
        server.wait(timeout=30)
