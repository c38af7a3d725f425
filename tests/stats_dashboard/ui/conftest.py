"""The dashboard pages in a real browser: the UI and API apps served on loopback.

The site is the API tests' (``api_site``). The apps are served by a WSGI server in a
thread, as InvenioRDM deploys them (the API under ``/api``); headless Chromium (Debian's
``chromium`` and ``chromium-driver``, installed by ``run-tests.sh`` when missing) is driven
by Selenium.
"""

import os
import shutil
from pathlib import Path

import pytest
from invenio_app.factory import create_api, create_ui
from werkzeug.middleware.dispatcher import DispatcherMiddleware

from invenio_stats_dashboard.demo.serve import LOOPBACK_HTTP

from ..api.conftest import api_site, app_config  # noqa: F401 (the same site and config)
from ..loopback import served

ROOT = Path(__file__).resolve().parents[3]
SCREENSHOTS = ROOT / "docs" / "screenshots"


@pytest.fixture(scope="module")
def live_site(app_config, api_site):  # noqa: F811
    """``http://127.0.0.1:<port>``: the UI app at ``/``, the API app at ``/api``."""
    config = {**app_config, "SERVER_NAME": None, "TRUSTED_HOSTS": None, **LOOPBACK_HTTP}
    ui, api = create_ui(**config), create_api(**config)
    with served(DispatcherMiddleware(ui, {"/api": api})) as url:
        yield url


def _chromium() -> tuple[str, str]:
    browser = shutil.which("chromium") or "/usr/bin/chromium"
    driver = shutil.which("chromedriver") or "/usr/bin/chromedriver"
    if not (os.path.exists(browser) and os.path.exists(driver)):
        pytest.fail(
            "Chromium is not installed: run ./run-tests.sh (it installs chromium, chromium-driver)"
        )
    return browser, driver


@pytest.fixture()
def chromium(tmp_path):
    """Headless Chromium (browser console collected, downloads into ``tmp_path``)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    binary, driver_path = _chromium()
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--window-size=1280,1800",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    options.add_experimental_option(
        "prefs",
        {
            "download.default_directory": str(tmp_path / "downloads"),
            "download.prompt_for_download": False,
        },
    )
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    driver.downloads = tmp_path / "downloads"
    yield driver
    driver.quit()
