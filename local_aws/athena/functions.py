"""Trino functions that DuckDB lacks or computes differently, rewritten as DuckDB expressions.

sqlglot maps most Trino functions to DuckDB's; this module fixes the rest on the parsed query
(before DuckDB SQL is generated). Each rewrite keeps Trino's semantics; a function with no
faithful rewrite is left alone, and DuckDB then fails the query naming it.
"""

from __future__ import annotations

import re

import sqlglot
from sqlglot import exp

from local_aws.athena.translate import AthenaError

# Joda-Time pattern letters (format_datetime, parse_datetime) -> strftime/strptime, by run length.
JODA = {
    "yyyy": "%Y", "yy": "%y", "y": "%Y", "YYYY": "%Y", "xxxx": "%G",
    "MMMM": "%B", "MMM": "%b", "MM": "%m", "M": "%-m",
    "dd": "%d", "d": "%-d", "DDD": "%j",
    "HH": "%H", "H": "%-H", "hh": "%I", "h": "%-I", "kk": "%H",
    "mm": "%M", "m": "%-M", "ss": "%S", "s": "%-S", "SSS": "%g", "SSSSSS": "%f",
    "a": "%p", "EEEE": "%A", "EEE": "%a", "E": "%a", "ZZ": "%z", "Z": "%z", "z": "%Z", "zzzz": "%Z",
}  # fmt: skip


def joda_to_strftime(pattern: str, function: str) -> str:
    """'yyyy-MM-dd HH:mm' -> '%Y-%m-%d %H:%M'; a letter run with no strftime equivalent fails naming it."""
    out = []
    for match in re.finditer(r"'([^']*)'|([A-Za-z])\2*|[^A-Za-z']+", pattern):
        if match.group(1) is not None:
            out.append((match.group(1) or "'").replace("%", "%%"))
        elif match.group(2):
            letters = match.group(0)
            if letters not in JODA:
                raise AthenaError(
                    "NOT_SUPPORTED",
                    f"{function}: Joda pattern letters '{letters}' have no equivalent in local Athena; "
                    f"supported: {', '.join(sorted(JODA))}",
                )
            out.append(JODA[letters])
        else:
            out.append(match.group(0).replace("%", "%%"))
    return "".join(out)


def duckdb_expression(template: str, **arguments: exp.Expression) -> exp.Expression:
    """DuckDB SQL with placeholder columns (:name) replaced by expressions."""
    tree = sqlglot.parse_one(re.sub(r":(\w+)", r"__arg_\1", template), read="duckdb")
    for column in list(tree.find_all(exp.Column)):
        if column.name.startswith("__arg_"):
            column.replace(arguments[column.name[len("__arg_") :]].copy())
    return tree


def apply_lambda(function: exp.Lambda, *arguments: exp.Expression) -> exp.Expression:
    """The lambda's body with its parameters replaced by the given expressions."""
    names = [param.name.lower() for param in function.expressions]
    values = dict(zip(names, arguments, strict=True))
    body = function.this.copy()
    if isinstance(body, (exp.Column, exp.Identifier)) and body.name.lower() in values and not body.args.get("table"):
        return values[body.name.lower()].copy()
    for node in list(body.find_all(exp.Column, exp.Identifier)):
        if node.name.lower() not in values:
            continue
        if isinstance(node, exp.Column) and not node.args.get("table"):
            node.replace(values[node.name.lower()].copy())
        elif isinstance(node, exp.Identifier) and not isinstance(node.parent, (exp.Column, exp.Alias, exp.Dot)):
            node.replace(values[node.name.lower()].copy())
    return body


def _lambda_argument(node: exp.Anonymous, index: int, arity: int) -> exp.Lambda:
    argument = node.expressions[index] if len(node.expressions) > index else None
    if not isinstance(argument, exp.Lambda) or len(argument.expressions) != arity:
        raise AthenaError(
            "FUNCTION_NOT_FOUND", f"{node.name}: argument {index + 1} must be a lambda of {arity} parameter(s)"
        )
    return argument


def _entry(name: str) -> exp.Expression:
    return exp.Dot(this=exp.column("__entry"), expression=exp.to_identifier(name))


def _map_lambda(node: exp.Anonymous, template: str) -> exp.Expression:
    """transform_values / transform_keys / map_filter over map_entries(m), the lambda's (k, v) bound to each entry."""
    body = apply_lambda(_lambda_argument(node, 1, 2), _entry("key"), _entry("value"))
    sql = template.replace("BODY", ":body")
    return duckdb_expression(sql, map=node.expressions[0], body=body)


# any_match / all_match / none_match over the lambda's results t: NULL when undecided and a result is NULL.
MATCHES = {
    "any_match": "CASE WHEN LIST_BOOL_OR(:t) THEN TRUE WHEN LIST_COUNT(:u) < LEN(:v) THEN NULL ELSE FALSE END",
    "all_match": "CASE WHEN NOT LIST_BOOL_AND(:t) THEN FALSE WHEN LIST_COUNT(:u) < LEN(:v) THEN NULL ELSE TRUE END",
    "none_match": "CASE WHEN LIST_BOOL_OR(:t) THEN FALSE WHEN LIST_COUNT(:u) < LEN(:v) THEN NULL ELSE TRUE END",
}


def _anonymous(node: exp.Anonymous) -> exp.Expression | None:
    name = node.name.lower()
    args = node.expressions
    if name == "format_datetime" and len(args) == 2 and isinstance(args[1], exp.Literal):
        return exp.Anonymous(
            this="STRFTIME", expressions=[args[0], exp.Literal.string(joda_to_strftime(args[1].name, name))]
        )
    if name == "map_agg" and len(args) == 2:  # a repeated key keeps one of its values, as in Trino
        entries = duckdb_expression(
            "LIST({'key': :k, 'value': :v}) FILTER (WHERE :kk IS NOT NULL)", k=args[0], v=args[1], kk=args[0]
        )
        return duckdb_expression(
            "MAP_FROM_ENTRIES(LIST_FILTER(:a, (__e, __i) -> LIST_POSITION(LIST_TRANSFORM(:b, __x -> __x.key), __e.key) = __i))",
            a=entries,
            b=entries,
        )
    if name in MATCHES and len(args) == 2:
        tests = exp.Anonymous(this="LIST_TRANSFORM", expressions=[args[0], _lambda_argument(node, 1, 1)])
        return duckdb_expression(MATCHES[name], t=tests, u=tests, v=tests)
    if name == "zip_with" and len(args) == 3:
        body = apply_lambda(
            _lambda_argument(node, 2, 2),
            exp.Bracket(this=args[0].copy(), expressions=[exp.column("__i")]),
            exp.Bracket(this=args[1].copy(), expressions=[exp.column("__i")]),
        )
        return duckdb_expression(
            "LIST_TRANSFORM(RANGE(1, GREATEST(LEN(:a), LEN(:b)) + 1), __i -> :body)", a=args[0], b=args[1], body=body
        )
    if name == "transform_values":
        return _map_lambda(
            node, "MAP_FROM_ENTRIES(LIST_TRANSFORM(MAP_ENTRIES(:map), __entry -> {'key': __entry.key, 'value': BODY}))"
        )
    if name == "transform_keys":
        return _map_lambda(
            node,
            "MAP_FROM_ENTRIES(LIST_TRANSFORM(MAP_ENTRIES(:map), __entry -> {'key': BODY, 'value': __entry.value}))",
        )
    if name == "map_filter":
        return _map_lambda(node, "MAP_FROM_ENTRIES(LIST_FILTER(MAP_ENTRIES(:map), __entry -> BODY))")
    return None


def _unnest(node: exp.Unnest) -> exp.Expression | None:
    """UNNEST(a, b) [WITH ORDINALITY]: DuckDB's table UNNEST takes one array; its SELECT unnest pads, as Trino does."""
    arrays = node.expressions
    if len(arrays) < 2:
        return None
    alias = node.args.get("alias")
    names = [column.name for column in alias.columns] if alias is not None else []
    wanted = len(arrays) + (1 if node.args.get("offset") else 0)
    if len(names) < wanted:
        names += [f"_col{i}" for i in range(len(names), wanted)]
    projections = [
        exp.alias_(exp.Anonymous(this="UNNEST", expressions=[a.copy()]), n)
        for a, n in zip(arrays, names[: len(arrays)], strict=True)
    ]
    offset = node.args.get("offset")
    if offset:
        longest = exp.Anonymous(
            this="GREATEST", expressions=[exp.Anonymous(this="LEN", expressions=[a.copy()]) for a in arrays]
        )
        ordinals = exp.Anonymous(
            this="RANGE", expressions=[exp.Literal.number(1), exp.Add(this=longest, expression=exp.Literal.number(1))]
        )
        name = offset.name if isinstance(offset, exp.Identifier) and offset.name else names[len(arrays)]
        projections.append(exp.alias_(exp.Anonymous(this="UNNEST", expressions=[ordinals]), name))
    subquery = exp.select(*projections).subquery(alias.name if alias is not None and alias.name else "_unnest")
    return subquery


def _rewrite(node: exp.Expression) -> exp.Expression:
    if isinstance(node, exp.Anonymous):
        return _anonymous(node) or node
    if isinstance(node, exp.ParseDatetime) and isinstance(node.args.get("format"), exp.Literal):
        pattern = joda_to_strftime(node.args["format"].name, "parse_datetime")
        parsed = exp.Anonymous(this="STRPTIME", expressions=[node.this, exp.Literal.string(pattern)])
        return exp.cast(parsed, exp.DataType.build("TIMESTAMPTZ", dialect="duckdb"))  # Trino: timestamp with time zone
    if isinstance(node, exp.Reduce) and node.args.get("finish") is not None:
        finish = node.args["finish"]
        reduced = node.copy()
        reduced.set("finish", None)
        return apply_lambda(finish, reduced)
    if isinstance(node, exp.ArrayDistinct):  # DuckDB's list_distinct loses Trino's first-occurrence order
        return duckdb_expression(
            "LIST_FILTER(:a, (__x, __i) -> LIST_POSITION(:b, __x) = __i)", a=node.this, b=node.this
        )
    if isinstance(node, exp.ArraySlice) and node.args.get("end") is not None:  # Trino: slice(array, start, length)
        start, length = node.args["start"], node.args["end"]
        end = exp.Sub(this=exp.Add(this=start.copy(), expression=length.copy()), expression=exp.Literal.number(1))
        return exp.ArraySlice(this=node.this, start=start, end=end)
    if isinstance(node, exp.DateDiff):  # Trino counts whole units elapsed; DuckDB's date_diff counts boundaries
        unit = exp.Literal.string((node.text("unit") or "day").lower())
        return exp.Anonymous(this="DATE_SUB", expressions=[unit, node.expression, node.this])
    if isinstance(node, exp.ArraySize):  # Trino's cardinality takes arrays and maps; DuckDB's array_length only arrays
        return exp.Anonymous(this="CARDINALITY", expressions=[node.this])
    if isinstance(node, exp.Unnest):
        return _unnest(node) or node
    return node


def rewrite(query: exp.Expression) -> exp.Expression:
    """Rewrite query in place, innermost calls first (a rewrite may take its rewritten arguments)."""
    for node in reversed(list(query.walk(bfs=False))):
        new = _rewrite(node)
        if new is not node:
            if node is query:
                return new
            node.replace(new)
    return query
