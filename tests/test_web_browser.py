"""The planner page in a real headless Chromium: a brief, the shortlist, the CSV, an error.

Chromium is Debian's package (`apt-get install chromium`), driven by Playwright for Python with
`executable_path` (Playwright's own browser downloads are never used). Without Playwright or
without Chromium these tests are skipped, saying which is missing.
"""

from __future__ import annotations

import csv
import os
import shutil
import threading
from pathlib import Path

import pytest
from web_support import MODEL_TEXT, page_world

from recommender.web.app import create_app, listen, make_page_server

pytestmark = pytest.mark.slow

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
TIMEOUT_MS = 20_000


def chromium_path() -> str | None:
    """$CHROMIUM, else Debian's chromium on the PATH or at /usr/bin/chromium."""
    for candidate in (os.environ.get("CHROMIUM"), shutil.which("chromium"),
                      "/usr/bin/chromium", shutil.which("chromium-browser")):
        if candidate and Path(candidate).is_file():
            return candidate
    return None


@pytest.fixture(scope="module")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("browser tests skipped: Playwright for Python is not installed "
                    "(pip install playwright)")
    path = chromium_path()
    if path is None:
        pytest.skip("browser tests skipped: no Chromium found (apt-get install chromium, or "
                    "set CHROMIUM to its path)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def world():
    return page_world()


@pytest.fixture(scope="module")
def base_url(world):
    """The page served on 127.0.0.1 at a free port, in a thread of this process."""
    server = make_page_server(create_app(world.ranker, MODEL_TEXT, world.data_dir),
                              listen("127.0.0.1", 0))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.port}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1366, "height": 900},
                                  accept_downloads=True)
    pg = context.new_page()
    pg.set_default_timeout(TIMEOUT_MS)
    yield pg
    context.close()


def test_planner_gets_a_budgeted_explained_shortlist_and_exports_it(page, base_url, world,
                                                                    tmp_path):
    brand = world.brands.iloc[0]
    label = f"{brand['name']} ({brand['brand_id']})"
    expected = world.ranker.recommend({"brand_id": brand["brand_id"]}, top_n=5, budget=1500.0)
    assert len(expected) >= 2, "the tiny world must give this brief a shortlist"

    page.goto(base_url + "/")
    assert page.text_content("#as-of") == f"{world.ranker.as_of:%Y-%m-%d %H:%M} UTC"
    assert page.text_content("#model-version") == MODEL_TEXT
    assert page.is_visible("#f-brand") and not page.is_visible("#f-category")

    # search: typing part of the name offers the brand in the list (fetched as you type)
    page.fill("#f-brand", str(brand["name"])[:5])
    page.wait_for_function(
        "label => [...document.querySelectorAll('#brand-list option')]"
        ".some(o => o.value === label)", arg=label)
    page.fill("#f-brand", label)
    page.fill("#f-top_n", "5")
    page.fill("#f-budget", "1,500")
    page.click("#submit")
    page.wait_for_selector("#shortlist")

    rows = page.locator("#shortlist tbody tr")
    ids = [rows.nth(i).get_attribute("data-influencer") for i in range(rows.count())]
    assert ids == expected["influencer_id"].tolist()
    first = rows.nth(0)
    assert first.locator(".why li").all_text_contents() == list(expected["reasons"].iloc[0])
    assert first.locator(".pct").text_content() == f"{expected['score'].iloc[0]:.1%}"
    assert first.locator("svg.pbar").count() == 1 and first.locator("svg.shares").count() == 2
    assert page.text_content("#total-cost") == f"${expected['price_per_post'].sum():,.0f}"
    assert page.text_content("#expected-conversions") == f"{expected['score'].sum():.2f}"
    assert page.is_visible("#export")
    page.screenshot(path=str(tmp_path / "shortlist.png"), full_page=True)

    with page.expect_download() as info:
        page.click("#export")
    download = info.value
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    assert saved.name == f"shortlist-{brand['brand_id']}.csv"
    with saved.open(newline="", encoding="utf-8") as f:
        exported = list(csv.DictReader(f))
    assert [r["influencer_id"] for r in exported] == ids
    assert [r["reason_1"] for r in exported] == [r[0] for r in expected["reasons"]]
    assert (tmp_path / "shortlist.png").stat().st_size > 10_000


def test_a_bad_value_is_shown_beside_its_field_and_never_a_trace(page, base_url, tmp_path):
    page.goto(base_url + "/")
    page.check("input[name=mode][value=new]")
    assert page.is_visible("#f-category") and not page.is_visible("#f-brand")
    page.select_option("#f-category", "beauty")
    page.fill("#f-age_18_24", "70")
    page.fill("#f-age_25_34", "50")
    page.fill("#f-max_followers", "lots")
    page.click("#submit")
    page.wait_for_selector("#form-errors")

    assert page.is_visible("#max_followers-error")
    assert "'lots' is not a number" in page.text_content("#max_followers-error")
    assert page.evaluate(
        "document.getElementById('f-max_followers').nextElementSibling.id") == (
        "max_followers-error")
    assert page.get_attribute("#f-max_followers", "aria-invalid") == "true"
    assert "120%" in page.text_content("#target_age-error")
    # the brief is kept as typed, in the mode it was typed in
    assert page.is_checked("input[name=mode][value=new]") and page.is_visible("#f-category")
    assert page.input_value("#f-age_18_24") == "70"
    assert "Traceback" not in page.content() and page.locator("#shortlist").count() == 0
    page.screenshot(path=str(tmp_path / "error.png"), full_page=True)
    assert (tmp_path / "error.png").stat().st_size > 10_000
