"""The dashboard pages in headless Chromium: numbers, controls, downloads, permissions,
accessibility and the mobile layout. Screenshots go to docs/screenshots/."""

import io
import json
import time
import urllib.error
import urllib.request
import zipfile
from datetime import date

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from invenio_stats_dashboard.aggregations.service import run_aggregations

from ..api.conftest import EVENTS, RECORDS
from .conftest import ROOT, SCREENSHOTS

AXE = ROOT / "frontend" / "node_modules" / "axe-core" / "axe.min.js"
TIMING = ROOT / ".stack" / "dashboard-timing.json"


@pytest.fixture(scope="module")
def aggregated(api_site):
    """Everything aggregated through today (the page's default range is this year)."""
    run_aggregations()
    return api_site


def wait_for(browser, condition: str, timeout: float = 30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if browser.execute_script(f"return Boolean({condition});"):
            return
        time.sleep(0.1)
    logs = browser.get_log("browser")
    html = browser.find_element(By.CLASS_NAME, "sd-status").text + str(browser.get_cookies())
    raise AssertionError(f"timed out waiting for {condition}; console: {logs}; page: {html}")


def loaded(browser, loads: int = 1):
    wait_for(browser, f"window.statsDashboard && window.statsDashboard.loads >= {loads}")
    wait_for(
        browser,
        "document.querySelectorAll('.sd-plot canvas').length >= window.statsDashboard.charts"
        ".filter(c => Object.values(c.lines).some(l => l.length)).length",
    )


def state(browser) -> dict:
    return browser.execute_script(
        "const s = window.statsDashboard;"
        "return {cards: s.cards, charts: s.charts, firstChartMs: s.firstChartMs};"
    )


def chart(browser, title) -> dict:
    (found,) = [c for c in state(browser)["charts"] if c["title"] == title]
    return found["lines"]


def console_errors(browser) -> list:
    return [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]


def choose(browser, name: str, value: str, loads: int | None = None):
    browser.find_element(By.CSS_SELECTOR, f"input[name='sd-{name}'][value='{value}']").click()
    if loads:
        loaded(browser, loads)


def test_global_page_numbers_controls_and_download(chromium, live_site, aggregated):
    browser = chromium
    browser.get(f"{live_site}/stats")
    loaded(browser)
    assert browser.find_element(By.TAG_NAME, "h1").text == "Statistics"
    cards = state(browser)["cards"]
    # this year: the totals at its end, no usage in it (the fixture's usage is of 2024)
    assert cards["Records"] == str(len(RECORDS))
    assert cards["Files"] == str(sum(len(s.files) for s in RECORDS))
    assert cards["Data volume"] == f"{sum(sum(s.files.values()) for s in RECORDS)} B"
    assert cards["Views"] == "0"
    assert "Data as of" in browser.find_element(By.CLASS_NAME, "sd-as-of").text

    Select(browser.find_element(By.TAG_NAME, "select")).select_by_value("all")
    loaded(browser, 2)
    cards = state(browser)["cards"]
    assert cards["Views"] == str(sum(1 for e in EVENTS if e[3] is None))
    assert cards["Downloads"] == str(sum(1 for e in EVENTS if e[3] is not None))
    assert chart(browser, "Views and downloads")["Views"][:1] == [["2024-01-01", 3]]  # by month
    added = chart(browser, "Records added and removed")["Added"]
    assert dict(added)["2024-01-01"] == len(RECORDS)

    # granularity: by day, the views of 2024-01-10 and 2024-01-12 apart
    choose(browser, "granularity", "day")
    views = dict(chart(browser, "Views and downloads")["Views"])
    assert (views["2024-01-10"], views["2024-01-12"]) == (2, 1)

    # the download has the numbers shown (a zip: one CSV per query)
    browser.find_element(By.XPATH, "//button[text()='Download CSV']").click()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not list(browser.downloads.glob("*.zip")):
        time.sleep(0.2)
    (archive,) = browser.downloads.glob("*.zip")
    assert archive.name.startswith("stats-global-")
    with zipfile.ZipFile(io.BytesIO(archive.read_bytes())) as files:
        usage = files.read("usageDelta.csv").decode().splitlines()
    assert "global,views,global,Global,2024-01-10,2,number" in usage

    # basis: by publication date (2020-06-01, folded onto the earliest date 2023-12-01)
    choose(browser, "basis", "published", loads=3)
    added = dict(chart(browser, "Records added and removed")["Added"])
    assert (
        added["2023-12-01"] == len(RECORDS)
        and "2024-01-01" not in added
        or not added.get("2024-01-01")
    )
    assert not console_errors(browser)


def test_community_pages_and_permissions(chromium, live_site, aggregated):
    browser = chromium
    slug = aggregated.slugs["open"]
    browser.get(f"{live_site}/communities/{slug}/stats")
    loaded(browser)
    assert "statistics" in browser.find_element(By.TAG_NAME, "h1").text
    expected = sum(1 for s in RECORDS if "open" in s.communities)
    assert state(browser)["cards"]["Records"] == str(expected)
    assert not console_errors(browser)
    # a restricted community's page is refused to an anonymous visitor
    closed = aggregated.slugs["closed"]
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(f"{live_site}/communities/{closed}/stats")
    assert refused.value.code == 403


def test_accessibility_mobile_and_screenshots(chromium, live_site, aggregated):
    browser = chromium
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    pages = {"global": "/stats", "community": f"/communities/{aggregated.slugs['open']}/stats"}
    timings = {}
    for name, path in pages.items():
        browser.set_window_size(1280, 1800)
        browser.get(f"{live_site}{path}")
        loaded(browser)
        Select(browser.find_element(By.TAG_NAME, "select")).select_by_value("all")
        loaded(browser, 2)
        timings[name] = state(browser)["firstChartMs"]
        browser.execute_script(AXE.read_text())
        results = browser.execute_async_script(
            "const done = arguments[arguments.length - 1];"
            "axe.run(document, {resultTypes: ['violations']}).then(r => done(r.violations));"
        )
        serious = [v["id"] for v in results if v["impact"] in ("serious", "critical")]
        assert not serious, serious
        browser.save_screenshot(str(SCREENSHOTS / f"{name}-desktop.png"))
        browser.set_window_size(375, 900)
        browser.get(f"{live_site}{path}")
        loaded(browser)
        Select(browser.find_element(By.TAG_NAME, "select")).select_by_value("all")
        loaded(browser, 2)
        width = browser.execute_script(
            "return [document.documentElement.scrollWidth, window.innerWidth];"
        )
        assert width[0] <= width[1], f"horizontal scroll at 375 px: {width}"
        browser.save_screenshot(str(SCREENSHOTS / f"{name}-mobile.png"))
        # keyboard: every control is reachable with Tab
        focusable = browser.execute_script(
            "return [...document.querySelectorAll("
            "'#stats-dashboard select, #stats-dashboard input, #stats-dashboard button')]"
            ".every(e => e.tabIndex >= 0);"
        )
        assert focusable
    TIMING.parent.mkdir(parents=True, exist_ok=True)
    TIMING.write_text(json.dumps({"first_chart_ms": timings, "measured": date.today().isoformat()}))
