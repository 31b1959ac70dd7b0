"""Airflow's UI in a browser, as a user drives it after `make airflow`: Debian's Chromium, headless, via Playwright.

Log in with the login `make airflow` printed, find a lab DAG, read its doc, open the trigger form, change
params, trigger, and wait for the run's success in the grid. Screenshots of each step go to
artifacts/browser/. The command runs with an Airflow home and ports of its own (as test_make_airflow.py),
its DAGs paused at creation: the form's "Unpause on trigger" unpauses the one triggered, and no scheduled
DAG runs meanwhile.
"""

from __future__ import annotations

import re
import urllib.parse
from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright

from tests.conftest import REPO_ROOT
from tests.e2e.airflow_support import Api, MakeAirflow, free_ports

pytestmark = pytest.mark.e2e

CHROMIUM = Path("/usr/bin/chromium")  # Debian's chromium package (make install); Playwright downloads none here
SHOTS = REPO_ROOT / "artifacts" / "browser"
DAG_ID = "lambda_lab1_basics"  # about half a minute on local AWS
NAME = "browser test"  # the `name` param, changed in the form from its default


def shot(page, name: str) -> None:
    page.screenshot(path=SHOTS / name, animations="disabled")  # dialogs as they end up, not mid fade-in


@pytest.fixture
def browser():
    assert CHROMIUM.exists(), f"{CHROMIUM} is missing: `make install` installs Debian's chromium"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        yield browser
        browser.close()


def test_log_in_find_a_lab_trigger_it_with_a_changed_param_and_see_it_succeed_in_the_grid(browser, tmp_path):
    SHOTS.mkdir(parents=True, exist_ok=True)
    for old in SHOTS.glob("*.png"):
        old.unlink()
    home, (aws_port, airflow_port) = tmp_path / "airflow", free_ports(2)
    make = MakeAirflow(home, aws_port, airflow_port, env={"AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True"})
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.set_default_timeout(30_000)
    try:
        url, user, password = make.wait_until_ready()
        api = Api(make.url, user, password)  # what the browser shows is checked against the REST API
        api.wait_for_dags({DAG_ID})
        params = api.get(f"/api/v2/dags/{DAG_ID}/details")["params"]

        # Log in with the printed login.
        page.goto(url)
        page.get_by_label("Username").fill(user)
        page.get_by_label("Password").fill(password)
        shot(page, "01-login.png")
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("heading", name="Welcome")).to_be_visible()

        # Find the lab in the DAG list.
        page.get_by_role("link", name="Dags", exact=True).first.click()
        page.get_by_role("textbox", name="Search Dags").fill("lambda_lab1")
        expect(page.get_by_role("heading", name="1 Dag", exact=True)).to_be_visible()
        shot(page, "02-dag-list.png")
        page.get_by_role("link", name=DAG_ID, exact=True).click()
        expect(page.get_by_role("heading", name=DAG_ID, exact=True)).to_be_visible()

        # Its doc.
        page.get_by_role("button", name="Dag Docs").click()
        docs = page.get_by_role("dialog")
        expect(docs.get_by_role("heading", name="Dag Documentation")).to_be_visible()
        expect(docs.get_by_role("heading", name="Lambda lab 1: basics", exact=False)).to_be_visible()
        shot(page, "03-dag-doc.png")
        docs.get_by_role("button", name="Close").click()

        # The trigger form: one field per param, with its description and default.
        page.get_by_role("button", name="Trigger Dag").click()
        form = page.get_by_role("dialog")
        expect(form.get_by_role("heading", name=f"Trigger Dag - {DAG_ID}")).to_be_visible()
        expect(form.get_by_role("checkbox", name=f"Unpause {DAG_ID} on trigger")).to_be_checked()
        for name, param in params.items():
            expect(form.locator(f"input[name=element_{name}]")).to_be_attached()
            expect(form.get_by_text(param["description"], exact=True)).to_be_visible()
        expect(form.locator("input[name=element_name]")).to_have_value(params["name"]["value"])
        shot(page, "04-trigger-form.png")
        form.locator("input[name=element_name]").fill(NAME)
        form.locator("label[id='switch:element_teardown']").click()  # clean up after the run
        expect(form.locator("input[name=element_teardown]")).to_be_checked()
        shot(page, "05-trigger-form-changed.png")
        form.get_by_role("button", name="Trigger", exact=True).click()

        # The run's page: wait for its success, then see it in the grid.
        page.wait_for_url(f"**/dags/{DAG_ID}/runs/**")
        run_id = urllib.parse.unquote(page.url.rstrip("/").rsplit("/runs/", 1)[1])
        state = page.get_by_test_id("header-card").get_by_test_id("state-badge")
        expect(state).to_have_text(re.compile("^(Success|Failed)$"), timeout=600_000)
        expect(state).to_have_text("Success")
        bar = page.locator(f"[data-run-id='{run_id}'] a").first
        bar.hover()
        expect(page.get_by_text(f"Run ID: {run_id}")).to_be_visible()
        expect(page.get_by_text("State: Success")).to_be_visible()
        shot(page, "06-grid-success.png")

        # The run got the params the form sent, and the function greeted the changed name.
        run = api.get(f"/api/v2/dags/{DAG_ID}/dagRuns/{urllib.parse.quote(run_id)}")
        assert run["state"] == "success"
        assert run["conf"] == {"teardown": True, "greeting": params["greeting"]["value"], "name": NAME}, run["conf"]
        figures = api.get(
            f"/api/v2/dags/{DAG_ID}/dagRuns/{urllib.parse.quote(run_id)}/taskInstances/validate/xcomEntries/return_value"
        )["value"]
        assert f", {NAME}!" in str(figures), figures
        make.ctrl_c()
        assert "Stopping triggerer, dag-processor, scheduler, api-server, local AWS" in make.output
    finally:
        page.close()
        make.kill()
    assert sorted(p.name for p in SHOTS.glob("*.png")) == [
        "01-login.png",
        "02-dag-list.png",
        "03-dag-doc.png",
        "04-trigger-form.png",
        "05-trigger-form-changed.png",
        "06-grid-success.png",
    ]
