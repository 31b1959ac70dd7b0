"""Read an Athena query with awswrangler and print the DataFrame as JSON: what a user's script gets.

Runs in the Athena clients' own environment (.venv-clients, requirements-clients.lock), against the
endpoint in AWS_ENDPOINT_URL: python awswrangler_read.py --help
"""

from __future__ import annotations

import argparse
import json

import awswrangler as wr


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("sql")
    parser.add_argument("--database", required=True)
    parser.add_argument("--s3-output", required=True)
    parser.add_argument("--approach", choices=("ctas", "unload", "csv"), default="ctas")
    args = parser.parse_args()
    frame = wr.athena.read_sql_query(
        args.sql,
        database=args.database,
        s3_output=args.s3_output,
        ctas_approach=args.approach == "ctas",
        unload_approach=args.approach == "unload",
    )
    print(
        json.dumps(
            {
                "columns": list(frame.columns),
                "dtypes": [str(t) for t in frame.dtypes],
                "rows": json.loads(frame.to_json(orient="values", date_format="iso")),
            }
        )
    )


if __name__ == "__main__":
    main()
