"""A pytest plugin (pytest.ini's `-p tests.metrics_dir`): the test session's metric files go to a
directory of their own, apart from a `make run`'s var/prometheus, before anything imports
prometheus_client (it reads PROMETHEUS_MULTIPROC_DIR once, when imported; Django's set-up imports it).
The worker the tests start inherits the variable, so its samples land beside the test process's."""

import os
import shutil
import tempfile

METRICS_DIR = tempfile.mkdtemp(prefix="facerec-test-metrics-")
os.environ["PROMETHEUS_MULTIPROC_DIR"] = METRICS_DIR


def pytest_unconfigure(config):
    shutil.rmtree(METRICS_DIR, ignore_errors=True)
