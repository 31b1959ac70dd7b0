"""labkit.labs.nightly: the data-quality checks against their bounds, the failure message, the results' key and
the nightly Glue role's access."""

from __future__ import annotations

import pytest
from airflow.sdk.exceptions import AirflowFailException

from labkit.core.validation import ValidationError
from labkit.labs import nightly


def passing_figures() -> dict[str, dict[str, str | None]]:
    """A row per table as Athena returns it (strings), every figure inside its default bound."""
    rows: dict[str, dict[str, str | None]] = {table: {} for table in nightly.QUALITY_TABLES}
    for check in nightly.CHECKS:
        rows[check.table][check.name] = str(check.bound)
    return rows


def by_id(results: list[dict]) -> dict[str, dict]:
    return {f"{r['table']}.{r['check']}": r for r in results}


def test_every_check_has_a_figure_a_bound_and_a_verdict():
    results = nightly.evaluate(passing_figures(), {})

    assert len(results) == len(nightly.CHECKS) == len({check.id for check in nightly.CHECKS})
    assert all(r["passed"] for r in results)
    assert set(results[0]) == {"check", "table", "figure", "bound", "passed", "description"}
    row_count = by_id(results)["curated_flights.row_count"]
    assert (row_count["figure"], row_count["bound"]) == (1000, ">= 1000")
    assert by_id(results)["ratings.max_rating"]["bound"] == "<= 5"
    assert by_id(results)["ratings.min_rating"]["bound"] == ">= 0.5"
    # every table gets the row count, key null and duplicate checks
    for table in nightly.QUALITY_TABLES:
        assert {f"{table}.{name}" for name in ("row_count", "null_keys", "duplicate_keys")} <= set(by_id(results))


def test_a_figure_beyond_its_bound_or_missing_fails_its_check_only():
    figures = passing_figures()
    figures["curated_weather"]["max_wind_speed"] = "1048.36"  # above 150 mph
    figures["curated_flights"]["row_count"] = "999"  # below 1,000
    figures["customers"]["min_balance"] = None  # an empty table: no minimum

    results = by_id(nightly.evaluate(figures, {}))

    failed = sorted(check for check, r in results.items() if not r["passed"])
    assert failed == ["curated_flights.row_count", "curated_weather.max_wind_speed", "customers.min_balance"]
    assert results["curated_weather.max_wind_speed"]["figure"] == 1048.36
    assert results["customers.min_balance"]["figure"] is None


def test_overrides_tighten_or_loosen_bounds_and_unknown_ones_are_refused():
    figures = passing_figures()
    figures["curated_flights"]["max_dep_delay"] = "1301"

    results = by_id(nightly.evaluate(figures, {"curated_flights.max_dep_delay": 60, "ratings.row_count": 5}))

    assert (results["curated_flights.max_dep_delay"]["passed"], results["curated_flights.max_dep_delay"]["bound"]) == (
        False,
        "<= 60",
    )
    assert results["ratings.row_count"]["bound"] == ">= 5"
    with pytest.raises(AirflowFailException, match=r"\['flights.max_dep_delay'\]"):
        nightly.evaluate(figures, {"flights.max_dep_delay": 60})


def test_a_query_without_a_checks_column_is_an_error():
    figures = passing_figures()
    del figures["movies"]["duplicate_keys"]
    with pytest.raises(ValueError, match="the movies query returned no column duplicate_keys"):
        nightly.evaluate(figures, {})


def test_the_gate_names_every_failed_check_with_its_figure_and_bound():
    figures = passing_figures()
    figures["ratings"]["max_rating"] = "9.5"
    figures["curated_weather"]["duplicate_keys"] = "3"
    results = nightly.evaluate(figures, {})

    with pytest.raises(ValidationError) as raised:
        nightly.enforce(results)

    assert str(raised.value) == (
        f"2 of {len(results)} data-quality checks failed: curated_weather.duplicate_keys = 3 (bound <= 0); "
        "ratings.max_rating = 9.5 (bound <= 5)"
    )
    passing = nightly.evaluate(passing_figures(), {})
    assert nightly.enforce(passing) == {"checks": len(passing), "passed": len(passing), "tables": 5}


def test_results_document_and_key():
    results = nightly.evaluate(passing_figures(), {"movies.row_count": 10**9})
    document = nightly.results_document(results, "curated_data_quality", "manual__2026-01-01T02:00:00+00:00", "t")

    assert (document["passed"], document["failed"]) == (False, ["movies.row_count = 1000 (bound >= 1000000000)"])
    assert document["checks"] == results
    assert nightly.results_key(document["run_id"]) == "quality/results/manual__2026-01-01T02_00_00_00_00.json"


def test_the_glue_role_writes_the_pipelines_buckets_and_only_reads_project1s_change_files():
    policy = nightly.glue_role_policy("p-nightly-data", "p-nightly-curated", "p-cdc-project-data")

    write, read = policy["Statement"]
    assert "s3:PutObject" in write["Action"] and "arn:aws:s3:::p-nightly-curated/*" in write["Resource"]
    assert "arn:aws:s3:::p-nightly-data/*" in write["Resource"]
    assert read["Action"] == ["s3:GetObject", "s3:ListBucket"]
    assert read["Resource"] == ["arn:aws:s3:::p-cdc-project-data", "arn:aws:s3:::p-cdc-project-data/cdc/*"]
    assert not any("cdc-project" in resource for resource in write["Resource"])


def test_the_nightly_validation_counts_each_curated_dataset_and_refuses_an_empty_one(aws_client):
    s3 = aws_client("s3")
    s3.create_bucket(Bucket="curated")
    s3.put_object(Bucket="curated", Key="curated/flights/year=2013/month=1/part-0.parquet", Body=b"x" * 2**20)
    s3.put_object(Bucket="curated", Key="curated/flights/_SUCCESS", Body=b"")
    s3.put_object(Bucket="curated", Key="curated/weather/part-0.parquet", Body=b"x" * 2**19)
    s3.put_object(Bucket="curated", Key="curated/cdc/ratings/_SUCCESS", Body=b"")

    with pytest.raises(ValidationError, match=r"^no Parquet file in s3://curated/curated/cdc/: nothing to publish$"):
        nightly.curated_figures("curated")

    s3.put_object(Bucket="curated", Key="curated/cdc/ratings/part-0.parquet", Body=b"x")
    assert nightly.curated_figures("curated") == {
        "flights_files": 1, "flights_mib": 1.0, "weather_files": 1, "weather_mib": 0.5, "cdc_files": 1, "cdc_mib": 0.0,
    }  # fmt: skip
