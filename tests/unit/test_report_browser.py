"""The pipeline report opened in headless Chromium (Debian's, driven by Playwright): every chart renders."""

from __future__ import annotations

import base64
import shutil
import struct
from datetime import UTC, datetime, timedelta

import pytest

from labkit.labs import clickstream_project
from labkit.report import render, sources
from tests.unit.test_report_render import sample_report

CHROMIUM = "/usr/bin/chromium"


def clickstream_chart(tmp_path) -> render.Chart:
    """The clickstream project's own chart code, on windows of a drop and a burst."""
    start = datetime(2026, 12, 5, 2, 0, tzinfo=UTC)
    windows, phases = [], []
    for index, (name, ctr) in enumerate([("warmup", 10), ("normal", 10), ("drop", 1), ("normal", 10), ("burst", 40)]):
        begin = start + timedelta(seconds=20 * index)
        phases.append({"name": name, "start": begin.isoformat(), "end": (begin + timedelta(seconds=20)).isoformat()})
        for second in range(0, 20, 2):
            alert = name in ("drop", "burst") and second == 0
            moment = begin + timedelta(seconds=second)
            windows.append(clickstream_project.Window(
                start=moment, end=moment + timedelta(seconds=2), impressions=1000, clicks=ctr * 10, ctr=float(ctr),
                score=3.5 if alert else 1.0, alert=alert, warming_up=name == "warmup",
            ))  # fmt: skip
    clickstream_project.draw_chart(windows, phases, 2.8, tmp_path / "manual_1.png", "CTR and score")
    return sources.clickstream_charts(tmp_path)[0]


@pytest.fixture(scope="module")
def browser():
    if not shutil.which(CHROMIUM):
        pytest.skip(f"no {CHROMIUM}: apt-get install chromium (the project's `make install` does)")
    playwright = pytest.importorskip("playwright.sync_api", reason="pip install playwright (in requirements.lock)")
    with playwright.sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        yield browser
        browser.close()


def test_every_chart_renders_in_chromium(browser, tmp_path):
    report = sample_report(charts=[clickstream_chart(tmp_path)])
    path = render.write(report, tmp_path / "report.html")
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    requests = []
    page.on("request", lambda request: requests.append(request.url))
    page.goto(path.as_uri())
    page.wait_for_load_state("load")
    images = page.eval_on_selector_all(
        "img", "images => images.map(i => ({alt: i.alt, complete: i.complete, width: i.naturalWidth, "
        "height: i.naturalHeight, shown: i.getBoundingClientRect().width, src: i.src}))",
    )  # fmt: skip
    assert len(images) == 3, images
    for image in images:
        png = base64.b64decode(image["src"].split(",", 1)[1])
        width, height = struct.unpack(">II", png[16:24])  # the PNG's own size, from its IHDR chunk
        assert image["complete"] and (image["width"], image["height"]) == (width, height), image["alt"]
        assert width > 0 and height > 0 and image["shown"] > 0, image["alt"]
    assert [url for url in requests if not url.startswith(("file:", "data:"))] == []
    assert "glue_lab1_csv_to_parquet" in page.inner_text("body")
    page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
    page.close()
