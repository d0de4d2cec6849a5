import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data"
sys.path.insert(0, str(ROOT))
# In CI a skipped test is a failure: a test that needs data, a browser or a package must find it.
STRICT = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def pytest_addoption(parser):
    parser.addoption("--update-screenshots", action="store_true",
                     help="the browser test writes docs/screenshots (otherwise a temporary folder)")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if STRICT and report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = f"skipped under CI, which counts as a failure: {report.longrepr}"


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):
    outcome = yield
    report = outcome.get_result()
    if STRICT and report.skipped:  # a module-level skip (importorskip, allow_module_level)
        report.outcome = "failed"
        report.longrepr = f"module skipped under CI, which counts as a failure: {report.longrepr}"


@pytest.fixture(scope="session")
def assessor():
    from iqa_core.pipeline import Assessor

    return Assessor()


@pytest.fixture(scope="session")
def data_root() -> Path:
    if not DATA.exists():
        pytest.skip("../shared/data is not beside the project")
    return DATA
