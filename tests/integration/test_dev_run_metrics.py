"""`make run`'s metrics: one folder for the run, shared by the web command and the worker, removed when it stops."""
import re
import signal
import subprocess
import sys
from pathlib import Path

import requests

from tests.integration.test_dev_run import dev_environment, wait_until_serving  # noqa: F401 - a fixture
from tests.support.metrics import Scrape
from tests.support.processes import ROOT


def test_make_run_serves_metrics_of_web_and_worker_from_one_folder_removed_at_the_end(dev_environment, tmp_path):
    log = tmp_path / "make-run.log"
    with open(log, "w") as output:
        parent = subprocess.Popen([sys.executable, "scripts/dev_run.py"], cwd=ROOT, env=dev_environment,
                                  stdout=output, stderr=subprocess.STDOUT)
    try:
        wait_until_serving(dev_environment, log, parent)
        port = dev_environment["DEV_WEB_PORT"]
        response = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=10)  # public in development
        assert response.status_code == 200
        assert f"Prometheus metrics on http://127.0.0.1:{port}/metrics" in log.read_text()
        folder = Path(re.search(r"Metrics folder of this run: (\S+)", log.read_text()).group(1))
        # A file per process that loaded the service: the web command's worker and the worker process.
        writers = {re.search(r"_(\d+)\.db$", path.name).group(1) for path in folder.glob("counter_*.db")}
        assert len(writers) == 2, writers
    finally:
        parent.send_signal(signal.SIGTERM)
        parent.wait(30)
    assert Scrape(response.text).has("dialer_backlog_messages", state="WAITING")
    assert not folder.exists()
