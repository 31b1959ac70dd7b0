"""Hive DDL -> the Glue Data Catalog, through the Glue API of local AWS (as Athena does on AWS).

Supported: CREATE DATABASE/SCHEMA, DROP DATABASE/SCHEMA [CASCADE], CREATE EXTERNAL TABLE,
DROP TABLE, ALTER TABLE ADD/DROP PARTITION and MSCK REPAIR TABLE. Anything else fails with
NOT_SUPPORTED naming the statement rather than being guessed at.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

from pyarrow import fs as pafs
from sqlglot import exp
from sqlglot.dialects.hive import Hive
from sqlglot.tokens import Token, TokenType

from local_aws.athena.storage import list_data_files
from local_aws.athena.tables import JSON_SERDES, OPEN_CSV_SERDE, PARQUET_SERDE, TEXT_SERDE
from local_aws.athena.translate import CATALOG, AthenaError, position

TEXT_INPUT = "org.apache.hadoop.mapred.TextInputFormat"
TEXT_OUTPUT = "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat"
# STORED AS <name> -> (InputFormat, OutputFormat, SerDe used when there is no ROW FORMAT)
STORED_AS = {
    "TEXTFILE": (TEXT_INPUT, TEXT_OUTPUT, TEXT_SERDE),
    "PARQUET": (
        "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
        "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
        PARQUET_SERDE,
    ),
    "ORC": (
        "org.apache.hadoop.hive.ql.io.orc.OrcInputFormat",
        "org.apache.hadoop.hive.ql.io.orc.OrcOutputFormat",
        "org.apache.hadoop.hive.ql.io.orc.OrcSerde",
    ),
    "AVRO": (
        "org.apache.hadoop.hive.ql.io.avro.AvroContainerInputFormat",
        "org.apache.hadoop.hive.ql.io.avro.AvroContainerOutputFormat",
        "org.apache.hadoop.hive.serde2.avro.AvroSerDe",
    ),
}
# ROW FORMAT DELIMITED clause -> LazySimpleSerDe parameter (Hive's own spelling of collection.delim).
DELIMITED_PARAMETERS = {
    "fields": ("field.delim", "serialization.format"),
    "escaped": ("escape.delim",),
    "collection_items": ("collection.delim",),
    "map_keys": ("mapkey.delim",),
    "lines": ("line.delim",),
    "null": ("serialization.null.format",),
}
KNOWN_SERDES = (TEXT_SERDE, OPEN_CSV_SERDE, PARQUET_SERDE, *JSON_SERDES)


class Catalog:
    """The Glue calls DDL needs, with Glue's errors turned into Athena's."""

    def __init__(self, glue):
        self.glue = glue

    def database_exists(self, name: str) -> bool:
        try:
            self.glue.get_database(Name=name)
            return True
        except self.glue.exceptions.EntityNotFoundException:
            return False

    def require_database(self, name: str) -> None:
        if not self.database_exists(name):
            raise AthenaError(
                "SCHEMA_NOT_FOUND", f"Database '{name}' does not exist; create it with CREATE DATABASE {name}"
            )

    def table(self, database: str, name: str) -> dict[str, Any] | None:
        try:
            return self.glue.get_table(DatabaseName=database, Name=name)["Table"]
        except self.glue.exceptions.EntityNotFoundException:
            return None

    def table_names(self, database: str) -> list[str]:
        pages = self.glue.get_paginator("get_tables").paginate(DatabaseName=database)
        return [table["Name"] for page in pages for table in page["TableList"]]

    def partitions(self, database: str, name: str) -> list[dict[str, Any]]:
        pages = self.glue.get_paginator("get_partitions").paginate(DatabaseName=database, TableName=name)
        return [partition for page in pages for partition in page["Partitions"]]


def run(statement: exp.Expression, sql: str, default_database: str, glue, s3: pafs.S3FileSystem) -> None:
    """Apply one DDL statement to the catalog (glue: a boto3 Glue client); AthenaError if it cannot be applied."""
    catalog = Catalog(glue)
    kind = (statement.args.get("kind") or "").upper()
    if isinstance(statement, exp.Create) and kind in ("DATABASE", "SCHEMA"):
        table = statement.this
        database_input = {}
        for prop in statement.args["properties"].expressions if statement.args.get("properties") else []:
            if isinstance(prop, exp.SchemaCommentProperty):
                database_input["Description"] = prop.this.name
            elif isinstance(prop, exp.LocationProperty):
                database_input["LocationUri"] = prop.this.name
            else:
                raise unsupported(f"CREATE DATABASE ... {prop.sql('athena')}")
        create_database(catalog, (table.name or table.db).lower(), bool(statement.args.get("exists")), database_input)
    elif isinstance(statement, exp.Drop) and kind in ("DATABASE", "SCHEMA"):
        table = statement.this if statement.this else statement.args["tables"][0]
        drop_database(
            catalog,
            (table.name or table.db).lower(),
            bool(statement.args.get("exists")),
            bool(statement.args.get("cascade")),
        )
    elif (
        isinstance(statement, exp.Create)
        and kind == "TABLE"
        and isinstance(statement.this, exp.Schema)
        and not statement.args.get("expression")
    ):
        create_table(catalog, statement, sql, default_database)
    elif isinstance(statement, exp.Drop) and kind == "TABLE":
        for table in statement.args.get("tables") or [statement.this]:
            drop_table(
                catalog,
                (table.db or default_database).lower(),
                table.name.lower(),
                bool(statement.args.get("exists")),
                sql,
                table,
            )
    elif isinstance(statement, exp.Alter) and all(
        isinstance(a, exp.DropPartition) for a in statement.args.get("actions") or [None]
    ):
        drop_partitions(catalog, statement, sql, default_database)
    elif isinstance(statement, (exp.Command, exp.Alter)):
        run_unparsed(catalog, Words(sql), default_database, s3)
    elif isinstance(statement, exp.Create) and statement.args.get("expression") is not None:
        raise unsupported(f"CREATE {kind} ... AS SELECT")
    else:
        raise unsupported(" ".join(sql.split()[:3]).upper())


def run_unparsed(catalog: Catalog, words: Words, default_database: str, s3: pafs.S3FileSystem) -> None:
    """Statements sqlglot leaves unparsed (exp.Command) or parses only in part, read token by token."""
    head = " ".join(token.text.upper() for token in words.tokens[:2])
    words.index = 2
    if head in ("CREATE DATABASE", "CREATE SCHEMA"):
        create_database_clauses(catalog, words)
    elif head == "ALTER TABLE":
        database, name = words.table_name(default_database)
        if not words.accept("ADD"):
            raise unsupported(f"ALTER TABLE {name} {words.peek().upper()}")
        add_partitions(catalog, words, database, name)
    elif head == "MSCK REPAIR":
        words.expect("TABLE")
        repair_table(catalog, *words.table_name(default_database), s3)
    else:
        raise unsupported(" ".join(token.text.upper() for token in words.tokens[:3]))


def unsupported(what: str) -> AthenaError:
    return AthenaError(
        "NOT_SUPPORTED",
        f"local Athena does not support '{what}' yet (supported DDL: CREATE/DROP DATABASE, CREATE EXTERNAL TABLE, "
        f"CREATE TABLE AS, CREATE/DROP VIEW, DROP TABLE, ALTER TABLE ADD/DROP PARTITION, MSCK REPAIR TABLE; "
        f"see docs/local-aws/athena.md)",
    )


def create_database(
    catalog: Catalog, name: str, if_not_exists: bool, database_input: dict[str, Any] | None = None
) -> None:
    try:
        catalog.glue.create_database(DatabaseInput={"Name": name, **(database_input or {})})
    except catalog.glue.exceptions.AlreadyExistsException:
        if not if_not_exists:
            raise AthenaError(
                "ALREADY_EXISTS", f"Database '{name}' already exists; use CREATE DATABASE IF NOT EXISTS {name}"
            ) from None


def create_database_clauses(catalog: Catalog, words: Words) -> None:
    """CREATE DATABASE [IF NOT EXISTS] name [COMMENT '..'] [LOCATION '..'] [WITH DBPROPERTIES (..)] (sqlglot leaves these unparsed)."""
    if_not_exists = words.accept("IF") and words.expect("NOT") and words.expect("EXISTS")
    name = words.name().lower()
    database_input: dict[str, Any] = {}
    while not words.done():
        if words.accept("COMMENT"):
            database_input["Description"] = words.string()
        elif words.accept("LOCATION"):
            database_input["LocationUri"] = words.string()
        elif words.accept("WITH"):
            words.expect("DBPROPERTIES")
            database_input["Parameters"] = words.key_values()
        else:
            raise AthenaError("SYNTAX_ERROR", f"unexpected '{words.peek()}' in CREATE DATABASE {name}")
    create_database(catalog, name, bool(if_not_exists), database_input)


def drop_database(catalog: Catalog, name: str, if_exists: bool, cascade: bool) -> None:
    if not catalog.database_exists(name):
        if if_exists:
            return
        raise AthenaError("SCHEMA_NOT_FOUND", f"Database '{name}' does not exist")
    tables = catalog.table_names(name)
    if tables and not cascade:
        raise AthenaError(
            "INVALID_OPERATION",
            f"Database '{name}' is not empty (tables: {', '.join(sorted(tables))}); drop them first or use DROP DATABASE {name} CASCADE",
        )
    for table in tables:
        catalog.glue.delete_table(DatabaseName=name, Name=table)
    catalog.glue.delete_database(Name=name)


def drop_table(catalog: Catalog, database: str, name: str, if_exists: bool, sql: str, node: exp.Expression) -> None:
    try:
        catalog.glue.delete_table(DatabaseName=database, Name=name)
    except catalog.glue.exceptions.EntityNotFoundException:
        if not if_exists:
            raise AthenaError(
                "TABLE_NOT_FOUND", f"{position(sql, node)}Table '{CATALOG}.{database}.{name}' does not exist"
            ) from None


def hive_type(data_type: exp.DataType) -> str:
    """The type as Glue stores it: Hive spelling, lowercase, no spaces ('struct<a:int,b:array<string>>')."""
    return data_type.sql("hive").lower().replace(" ", "")


def glue_columns(schema: exp.Schema) -> list[dict[str, str]]:
    columns = []
    for column in schema.expressions:
        if not isinstance(column, exp.ColumnDef) or column.args.get("kind") is None:
            raise AthenaError(
                "SYNTAX_ERROR", f"expected a column definition '<name> <type>', got '{column.sql('athena')}'"
            )
        entry = {"Name": column.name.lower(), "Type": hive_type(column.args["kind"])}
        for constraint in column.args.get("constraints") or []:
            if isinstance(constraint.args.get("kind"), exp.CommentColumnConstraint):
                entry["Comment"] = constraint.args["kind"].name
        columns.append(entry)
    return columns


def create_table(catalog: Catalog, statement: exp.Create, sql: str, default_database: str) -> None:
    table = statement.this.this
    database, name = (table.db or default_database).lower(), table.name.lower()
    properties = statement.args.get("properties")
    external = False
    location = description = None
    partition_keys: list[dict[str, str]] = []
    formats: tuple[str, str, str] | None = None
    serde: str | None = None
    serde_parameters: dict[str, str] = {}
    table_parameters: dict[str, str] = {}
    for prop in properties.expressions if properties else []:
        if isinstance(prop, exp.ExternalProperty):
            external = True
        elif isinstance(prop, exp.LocationProperty):
            location = prop.this.name
        elif isinstance(prop, exp.SchemaCommentProperty):
            description = prop.this.name
        elif isinstance(prop, exp.PartitionedByProperty):
            if not isinstance(prop.this, exp.Schema):
                raise AthenaError(
                    "SYNTAX_ERROR", "PARTITIONED BY needs column definitions: PARTITIONED BY (<name> <type>, ...)"
                )
            partition_keys = glue_columns(prop.this)
        elif isinstance(prop, exp.RowFormatDelimitedProperty):
            serde = TEXT_SERDE
            for clause, keys in DELIMITED_PARAMETERS.items():
                if prop.args.get(clause) is not None:
                    serde_parameters.update(dict.fromkeys(keys, prop.args[clause].name))
        elif isinstance(prop, exp.RowFormatSerdeProperty):
            serde = prop.this.name
            if prop.args.get("serde_properties"):
                serde_parameters.update(
                    {p.name: p.args["value"].name for p in prop.args["serde_properties"].expressions}
                )
        elif isinstance(prop, exp.FileFormatProperty):
            formats = stored_as(prop)
        elif type(prop) is exp.Property:  # TBLPROPERTIES ('key'='value')
            table_parameters[prop.name] = prop.args["value"].name
        else:
            raise unsupported(f"CREATE TABLE ... {prop.sql('athena')}")
    if not external:
        raise AthenaError(
            "NOT_SUPPORTED", f"Only external table creation is supported: write CREATE EXTERNAL TABLE {database}.{name}"
        )
    if not location:
        raise AthenaError(
            "SYNTAX_ERROR", f"CREATE EXTERNAL TABLE {database}.{name} needs LOCATION 's3://bucket/prefix/'"
        )
    input_format, output_format, default_serde = formats or STORED_AS["TEXTFILE"]
    serde = serde or default_serde
    if serde == TEXT_SERDE and "field.delim" not in serde_parameters:
        serde_parameters.setdefault("serialization.format", "1")  # Hive's default: fields separated by \001
    catalog.require_database(database)
    table_input = {
        "Name": name,
        "TableType": "EXTERNAL_TABLE",
        "Parameters": {"EXTERNAL": "TRUE", **table_parameters},
        "PartitionKeys": partition_keys,
        "StorageDescriptor": {
            "Columns": glue_columns(statement.this),
            "Location": location,
            "InputFormat": input_format,
            "OutputFormat": output_format,
            "SerdeInfo": {"SerializationLibrary": serde, "Parameters": serde_parameters},
        },
    }
    if description:
        table_input["Description"] = description
    try:
        catalog.glue.create_table(DatabaseName=database, TableInput=table_input)
    except catalog.glue.exceptions.AlreadyExistsException:
        if not statement.args.get("exists"):
            raise AthenaError(
                "ALREADY_EXISTS",
                f"Table '{CATALOG}.{database}.{name}' already exists; use CREATE EXTERNAL TABLE IF NOT EXISTS to keep it",
            ) from None


def stored_as(prop: exp.FileFormatProperty) -> tuple[str, str, str]:
    if isinstance(prop.this, exp.InputOutputFormat):
        input_format, output_format = prop.this.args["input_format"].name, prop.this.args["output_format"].name
        default_serde = PARQUET_SERDE if "parquet" in input_format.lower() else TEXT_SERDE
        return input_format, output_format, default_serde
    name = prop.name.upper()
    if name not in STORED_AS:
        raise unsupported(f"STORED AS {name}")
    return STORED_AS[name]


def partition_input(table: dict[str, Any], values: list[str], location: str) -> dict[str, Any]:
    """A partition stored like its table (same format and SerDe) at location."""
    descriptor = {**table["StorageDescriptor"], "Location": location}
    return {"Values": values, "StorageDescriptor": descriptor}


def default_partition_location(table: dict[str, Any], keys: list[str], values: list[str]) -> str:
    base = table["StorageDescriptor"]["Location"].rstrip("/")
    return base + "/" + "/".join(f"{key}={value}" for key, value in zip(keys, values, strict=True)) + "/"


def existing_table(
    catalog: Catalog, database: str, name: str, sql: str = "", node: exp.Expression | None = None
) -> dict[str, Any]:
    table = catalog.table(database, name)
    if table is None:
        where = position(sql, node) if node is not None else ""
        raise AthenaError("TABLE_NOT_FOUND", f"{where}Table '{CATALOG}.{database}.{name}' does not exist")
    return table


def create_partitions(
    catalog: Catalog, database: str, name: str, inputs: list[dict[str, Any]], if_not_exists: bool
) -> None:
    for start in range(0, len(inputs), 100):  # Glue's BatchCreatePartition limit
        response = catalog.glue.batch_create_partition(
            DatabaseName=database, TableName=name, PartitionInputList=inputs[start : start + 100]
        )
        for error in response.get("Errors") or []:
            code = error.get("ErrorDetail", {}).get("ErrorCode")
            if code == "AlreadyExistsException" and if_not_exists:
                continue
            values = ", ".join(error.get("PartitionValues") or [])
            raise AthenaError(
                "ALREADY_EXISTS" if code == "AlreadyExistsException" else "HIVE_METASTORE_ERROR",
                f"partition ({values}) of {database}.{name}: {error.get('ErrorDetail', {}).get('ErrorMessage', code)}",
            )


def add_partitions(catalog: Catalog, words: Words, database: str, name: str) -> None:
    """ALTER TABLE t ADD [IF NOT EXISTS] PARTITION (k=v, ...) [LOCATION 's3://..'] [PARTITION ...]."""
    if_not_exists = bool(words.accept("IF") and words.expect("NOT") and words.expect("EXISTS"))
    table = existing_table(catalog, database, name)
    keys = [key["Name"].lower() for key in table.get("PartitionKeys") or []]
    inputs = []
    while words.accept("PARTITION"):
        spec = {key.lower(): value for key, value in words.key_values(bare_values=True).items()}
        if sorted(spec) != sorted(keys):
            raise AthenaError(
                "INVALID_PARTITION",
                f"PARTITION ({', '.join(spec)}) must give every partition key of {database}.{name}: {', '.join(keys)}",
            )
        values = [spec[key] for key in keys]
        location = words.string() if words.accept("LOCATION") else default_partition_location(table, keys, values)
        inputs.append(partition_input(table, values, location))
    if not inputs or not words.done():
        raise AthenaError(
            "SYNTAX_ERROR",
            "expected ALTER TABLE <table> ADD [IF NOT EXISTS] PARTITION (<key>=<value>, ...) [LOCATION 's3://...']",
        )
    create_partitions(catalog, database, name, inputs, if_not_exists)


def drop_partitions(catalog: Catalog, statement: exp.Alter, sql: str, default_database: str) -> None:
    node = statement.this
    database, name = (node.db or default_database).lower(), node.name.lower()
    table = existing_table(catalog, database, name, sql, node)
    keys = [key["Name"].lower() for key in table.get("PartitionKeys") or []]
    for action in statement.args["actions"]:
        for partition in action.expressions:
            spec = {eq.this.name.lower(): eq.expression.name for eq in partition.expressions}
            if sorted(spec) != sorted(keys):
                raise AthenaError(
                    "INVALID_PARTITION",
                    f"PARTITION ({', '.join(spec)}) must give every partition key of {database}.{name}: {', '.join(keys)}",
                )
            try:
                catalog.glue.delete_partition(
                    DatabaseName=database, TableName=name, PartitionValues=[spec[key] for key in keys]
                )
            except catalog.glue.exceptions.EntityNotFoundException:
                if not action.args.get("exists"):
                    raise AthenaError(
                        "PARTITION_NOT_FOUND",
                        f"partition ({', '.join(f'{k}={v}' for k, v in spec.items())}) of {database}.{name} does not exist",
                    ) from None


def repair_table(catalog: Catalog, database: str, name: str, s3: pafs.S3FileSystem) -> None:
    """MSCK REPAIR TABLE: register the key=value/ folders under the table's location as partitions."""
    table = existing_table(catalog, database, name)
    keys = [key["Name"].lower() for key in table.get("PartitionKeys") or []]
    if not keys:
        return
    location = table["StorageDescriptor"]["Location"].rstrip("/") + "/"
    known = {tuple(p["Values"]) for p in catalog.partitions(database, name)}
    found: dict[tuple[str, ...], str] = {}
    for info in list_data_files(s3, location):
        path = f"s3://{info.path}"
        folders = path[len(location) :].split("/")[:-1][: len(keys)]
        pairs = [folder.split("=", 1) for folder in folders]
        if len(pairs) == len(keys) and all(
            len(p) == 2 and p[0].lower() == key for p, key in zip(pairs, keys, strict=True)
        ):
            values = tuple(unquote(value) for _, value in pairs)
            found.setdefault(values, location + "/".join(folders) + "/")
    inputs = [
        partition_input(table, list(values), where) for values, where in sorted(found.items()) if values not in known
    ]
    create_partitions(catalog, database, name, inputs, if_not_exists=True)


class WordTokenizer(Hive.Tokenizer):
    """Hive's tokenizer, but multi-word commands (MSCK REPAIR, ...) come out word by word."""

    KEYWORDS = {word: kind for word, kind in Hive.Tokenizer.KEYWORDS.items() if kind != TokenType.COMMAND}


NOT_NAMES = (
    TokenType.STRING,
    TokenType.NUMBER,
    TokenType.L_PAREN,
    TokenType.R_PAREN,
    TokenType.COMMA,
    TokenType.DOT,
    TokenType.EQ,
)


class Words:
    """A cursor over the tokens of DDL that sqlglot leaves unparsed (it returns an exp.Command)."""

    def __init__(self, text: str):
        self.tokens: list[Token] = [
            token for token in WordTokenizer().tokenize(text) if token.token_type != TokenType.SEMICOLON
        ]
        self.index = 0

    def done(self) -> bool:
        return self.index >= len(self.tokens)

    def peek(self) -> str:
        return "" if self.done() else self.tokens[self.index].text

    def rest(self) -> str:
        return " ".join(t.text for t in self.tokens[self.index :])

    def accept(self, *words: str) -> bool:
        if not self.done() and self.tokens[self.index].text.upper() in words:
            self.index += 1
            return True
        return False

    def expect(self, word: str) -> bool:
        if not self.accept(word):
            raise AthenaError("SYNTAX_ERROR", f"expected {word} but got '{self.peek() or 'end of statement'}'")
        return True

    def _take(self, kinds: tuple[TokenType, ...], what: str) -> str:
        if self.done() or self.tokens[self.index].token_type not in kinds:
            raise AthenaError("SYNTAX_ERROR", f"expected {what} but got '{self.peek() or 'end of statement'}'")
        self.index += 1
        return self.tokens[self.index - 1].text

    def name(self) -> str:
        """An identifier (keywords included: a database may be called `default`)."""
        if self.done() or self.tokens[self.index].token_type in NOT_NAMES:
            raise AthenaError("SYNTAX_ERROR", f"expected a name but got '{self.peek() or 'end of statement'}'")
        self.index += 1
        return self.tokens[self.index - 1].text

    def string(self) -> str:
        return self._take((TokenType.STRING,), "a quoted string")

    def table_name(self, default_database: str) -> tuple[str, str]:
        first = self.name()
        if self.peek() == ".":
            self.index += 1
            return first.lower(), self.name().lower()
        return default_database.lower(), first.lower()

    def key_values(self, bare_values: bool = False) -> dict[str, str]:
        """( 'k'='v', ... ) of DBPROPERTIES, or (k=v, ...) of a PARTITION spec (bare_values: numbers allowed)."""
        self._take((TokenType.L_PAREN,), "(")
        pairs = {}
        while True:
            key = self.string() if not bare_values else self.name()
            self._take((TokenType.EQ,), "=")
            pairs[key] = self._take(
                (TokenType.STRING, TokenType.NUMBER) if bare_values else (TokenType.STRING,), "a value"
            )
            if not self.accept(","):
                break
        self._take((TokenType.R_PAREN,), ")")
        return pairs
