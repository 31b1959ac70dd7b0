"""Glue lab 5's checks: the job's MovieLens figures against Athena's own computation on the raw tables.

Each `sql/glue_lab5/*_check.sql` query returns one row comparing a job output with the same
aggregate computed from the raw CSV tables: expected_rows, job_rows, missing, unexpected,
different.
"""

from __future__ import annotations

from labkit.core.validation import ValidationError
from labkit.labs.athena import fetch_rows

CHECKS = ("per_movie_check", "per_genre_check", "top_movies_check")


def _problems(check: str, row: dict) -> list[str]:
    counts = {key: int(value) for key, value in row.items()}
    problems = [f"{check}: {counts[key]} {key}" for key in ("missing", "unexpected", "different") if counts[key]]
    if counts["expected_rows"] == 0:
        problems.append(f"{check}: the raw tables give no rows to compare")
    if counts["expected_rows"] != counts["job_rows"]:
        problems.append(f"{check}: the job wrote {counts['job_rows']} rows, Athena computes {counts['expected_rows']}")
    return problems


def reconcile_movie_ratings(staged: dict, query_ids: dict[str, str], top_n: int) -> dict:
    """Raw tables hold what was staged; every job output equals Athena's computation; key figures.

    query_ids: Athena query ids of the three checks and of `figures`.
    """
    problems = []
    for check in CHECKS:
        (row,) = fetch_rows(query_ids[check])
        problems += _problems(check, row)
    rows = fetch_rows(query_ids["figures"])
    if len(rows) != 1:
        raise ValidationError(f"the top movies table has {len(rows)} movies ranked 1; expected one")
    (figures,) = rows
    for table in ("movies", "ratings"):
        if int(figures[table]) != staged[table]:
            problems.append(f"raw_{table} has {figures[table]} rows but {staged[table]} were staged")
    if int(figures["top_movies"]) != top_n:
        problems.append(f"top_movies has {figures['top_movies']} rows, expected top_n={top_n}")
    if problems:
        raise ValidationError("movie ratings do not reconcile: " + "; ".join(problems))
    return {
        "movies": int(figures["movies"]),
        "ratings": int(figures["ratings"]),
        "movies_rated": int(figures["movies_rated"]),
        "ratings_joined": int(figures["ratings_joined"]),
        "genres": int(figures["genres"]),
        "top_movie": figures["top_movie"],
        "top_movie_ratings": int(figures["top_movie_ratings"]),
        "top_movie_avg_rating": float(figures["top_movie_avg_rating"]),
    }
