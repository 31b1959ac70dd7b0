"""The pipeline report's HTML: every DAG, figure and check it is given, PNG images inline, nothing from elsewhere."""

from __future__ import annotations

import base64
import io
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser

import pytest

from labkit.report import publish, render, sources

T0 = datetime(2026, 12, 5, 2, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def tiny_png() -> bytes:
    from matplotlib.figure import Figure

    figure = Figure(figsize=(2, 1))
    figure.add_subplot().plot([1, 2, 3])
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def sample_report(**changes) -> render.Report:
    cdc_run = render.DagRunTiming(
        "cdc_project", "manual__2026-12-05", "success", at(0), at(400),
        [render.TaskTiming("run_workload", "success", at(100), at(130)),
         render.TaskTiming("wait_for_cdc", "success", at(130), at(136.5)),
         render.TaskTiming("wait_for_merges", "success", at(136.5), at(170)),
         render.TaskTiming("delete_task", "skipped", None, None)],
        {"workload_transactions": 1000, "movies_rows": 9066, "avg_rating": 3.5436,
         "customers_changes": {"insert": 12, "delete": 3}},
    )  # fmt: skip
    glue_run = render.DagRunTiming(
        "glue_lab1_csv_to_parquet", "scheduled__2026-12-05T02:00", "failed", at(0), at(95),
        [render.TaskTiming("crawl_raw", "success", at(1), at(20)),
         render.TaskTiming("csv_to_parquet", "failed", at(20), at(90)),
         render.TaskTiming("validate", "upstream_failed", None, at(91))],
        None,
    )  # fmt: skip
    values = {
        "source": "unit test",
        "dag_runs": [cdc_run, glue_run],
        "quality": [
            {"check": "row_count", "table": "curated_flights", "figure": 336776, "bound": ">= 300000", "passed": True},
            {"check": "null_keys", "table": "current_customers", "figure": 2, "bound": "== 0", "passed": False},
        ],
        "charts": [render.Chart("clickstream_project run manual_1", tiny_png())],
        "cdc": sources.cdc_latency(cdc_run),
        "glue_runs": [render.GlueJobRun("ade-glue-lab1-csv-to-parquet", "jr_abc123", "SUCCEEDED", at(20), at(88), 61)],
    }
    return render.Report(**{**values, **changes})


class Page(HTMLParser):
    """The page's text, its img sources and every src/href attribute."""

    def __init__(self, html: str):
        super().__init__()
        self.text, self.images, self.references, self.tags = [], [], [], []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        attrs = dict(attrs)
        if tag == "img":
            self.images.append(attrs["src"])
        self.references += [attrs[name] for name in ("src", "href") if name in attrs]

    def handle_data(self, data):
        self.text.append(data)

    @property
    def words(self) -> str:
        return " ".join(" ".join(self.text).split())


def test_every_dag_figure_and_check_is_on_the_page():
    report = sample_report()
    page = Page(render.render(report))
    for run in report.dag_runs:
        assert run.dag_id in page.words and run.run_id in page.words
        for task in run.tasks:
            assert task.task_id in page.words
    assert "workload_transactions 1,000" in page.words
    assert "movies_rows 9,066" in page.words and "avg_rating 3.5436" in page.words
    assert 'customers_changes {"insert": 12, "delete": 3}' in page.words
    assert "No key figures (its validate task returned none: the run did not succeed)" in page.words
    assert "1 of 2 checks passed" in page.words
    assert "row_count curated_flights 336,776 >= 300000 passed" in page.words
    assert "null_keys current_customers 2 == 0 FAILED" in page.words
    assert "ade-glue-lab1-csv-to-parquet jr_abc123 SUCCEEDED" in page.words
    assert "61 s" in page.words
    assert "last commit -> every change in S3 (s, at most) 6.5" in page.words
    assert "last commit -> merges done (s, at most) 40.0" in page.words
    assert "clickstream_project run manual_1" in page.words


def test_images_are_pngs_embedded_in_the_page():
    from PIL import Image

    report = sample_report()
    page = Page(render.render(report))
    assert len(page.images) == 3  # the timeline, the Glue runs, the clickstream chart
    for source in page.images:
        assert source.startswith("data:image/png;base64,")
        png = base64.b64decode(source.removeprefix("data:image/png;base64,"), validate=True)
        assert png.startswith(b"\x89PNG\r\n\x1a\n")
        with Image.open(io.BytesIO(png)) as image:
            assert image.format == "PNG" and image.width > 100 and image.height > 50
    assert report.charts[0].png in [base64.b64decode(s.split(",", 1)[1]) for s in page.images]


def test_the_page_loads_nothing_from_elsewhere():
    html = render.render(sample_report())
    page = Page(html)
    assert [ref for ref in page.references if not ref.startswith(("data:image/png;base64,", "#"))] == []
    assert not {"script", "link", "iframe", "object", "embed"} & set(page.tags)
    assert "http:" not in html and "https:" not in html and "url(" not in html


def test_what_it_is_given_is_escaped():
    hostile = "<script>alert(1)</script>"
    run = render.DagRunTiming("s3_lab1_versioning", "manual__<x>", "success", at(0), at(5), [], {"note": hostile})
    check = {"check": hostile, "table": "t", "figure": 1, "bound": "<= 0", "passed": False}
    html = render.render(sample_report(dag_runs=[run], quality=[check]))
    assert hostile not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "manual__&lt;x&gt;" in html and "&lt;= 0" in html
    assert "script" not in Page(html).tags


def test_without_a_quality_run_or_other_inputs_the_page_says_so():
    page = Page(render.render(sample_report(quality=None, charts=[], cdc=None, glue_runs=[])))
    assert "No data-quality run yet." in page.words
    assert "No clickstream chart yet" in page.words
    assert "No cdc_project run." in page.words
    assert "No Glue job runs." in page.words
    assert len(page.images) == 1  # the timeline only


def test_cdc_latency_needs_the_workload_to_have_succeeded():
    failed = render.DagRunTiming(
        "cdc_project", "r", "failed", at(0), at(10), [render.TaskTiming("run_workload", "failed", at(1), at(2))]
    )
    assert sources.cdc_latency(failed) is None
    latency = sources.cdc_latency(sample_report().dag_runs[0])
    assert latency["figures"]["workload committed over (s)"] == 30
    assert latency["figures"]["workload_transactions"] == 1000
    assert "no per-change latency" in latency["note"]


def test_task_times_from_the_rest_api():
    """timing_from_api reads the fields /api/v2's dagRuns and taskInstances answer with."""
    run = {"dag_id": "athena_lab1_basics", "dag_run_id": "manual__1", "state": "success",
           "start_date": "2026-12-05T02:00:00.123456Z", "end_date": "2026-12-05T02:01:40Z"}  # fmt: skip
    tis = [{"task_id": "create_database", "state": "success",
            "start_date": "2026-12-05T02:00:01Z", "end_date": "2026-12-05T02:00:03.5Z"},
           {"task_id": "delete_database", "state": "skipped", "start_date": None, "end_date": None}]  # fmt: skip
    timing = sources.timing_from_api(run, tis, {"rows": 3})
    assert timing.seconds == pytest.approx(99.876544)
    assert timing.task("create_database").seconds == 2.5
    assert timing.task("delete_database").seconds is None
    assert timing.figures == {"rows": 3}


def test_quality_results_file(tmp_path):
    assert sources.quality_results(tmp_path / "missing.json") is None
    path = tmp_path / "results.json"
    path.write_text('[{"check": "freshness", "table": "t", "figure": 3600, "bound": "<= 86400", "passed": true}]')
    assert sources.quality_results(path)[0]["check"] == "freshness"
    path.write_text('{"run_id": "r", "passed": false, "checks": [{"check": "row_count", "table": "t", '
                    '"figure": 0, "bound": ">= 1", "passed": false}]}')  # fmt: skip
    assert sources.quality_results(path) == [
        {"check": "row_count", "table": "t", "figure": 0, "bound": ">= 1", "passed": False}
    ]


def test_quality_checks_of_the_run_that_published_the_triggering_event():
    """The checks are the return value of the task that published the event (a manual run has none)."""
    from airflow.sdk.api.datamodels._generated import AssetEventDagRunReference

    def event(dag_id, run_id, task_id):
        return AssetEventDagRunReference.model_validate({
            "asset": {"name": "results", "uri": "s3://ade-curated/quality/results/", "extra": {}}, "extra": {},
            "source_task_id": task_id, "source_dag_id": dag_id, "source_run_id": run_id, "source_map_index": -1,
            "source_aliases": [], "timestamp": T0,
        })  # fmt: skip

    checks = [{"check": "row_count", "table": "t", "figure": 5, "bound": ">= 1", "passed": True}]
    xcoms = {("curated_data_quality", "scheduled__1", "evaluate_checks"): checks}
    pulled = []

    def pull(dag_id, run_id, task_id):
        pulled.append((dag_id, run_id, task_id))
        return xcoms.get((dag_id, run_id, task_id))

    events = {"s3://ade-curated/quality/results/": [event("curated_data_quality", "scheduled__1", "evaluate_checks")]}
    assert publish.quality_from_events(events, pull) == checks
    assert pulled == [("curated_data_quality", "scheduled__1", "evaluate_checks")]
    assert publish.quality_from_events({}, pull) is None
    assert publish.quality_from_events(None, pull) is None


def test_written_to_a_file(tmp_path):
    path = render.write(sample_report(), tmp_path / "artifacts" / "report.html")
    assert path.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
