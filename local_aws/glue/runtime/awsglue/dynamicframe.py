"""awsglue.dynamicframe: DynamicFrame, here a thin wrapper around a Spark DataFrame.

Local difference from AWS: AWS Glue's DynamicFrame is self-describing (choice types per
record); this one has the wrapped DataFrame's fixed schema, and schema() returns a Spark
StructType.
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F


class DynamicFrame:
    def __init__(self, dataframe: DataFrame, glue_ctx, name: str = ""):
        if not isinstance(dataframe, DataFrame):
            raise TypeError(
                f"DynamicFrame wraps a pyspark DataFrame, got {type(dataframe).__name__}; "
                "use DynamicFrame.fromDF(df, glue_context, name)"
            )
        self._df = dataframe
        self.glue_ctx = glue_ctx
        self.name = name

    @classmethod
    def fromDF(cls, dataframe: DataFrame, glue_ctx, name: str) -> DynamicFrame:
        return cls(dataframe, glue_ctx, name)

    def toDF(self, options=None) -> DataFrame:
        return self._df

    def count(self) -> int:
        return self._df.count()

    def schema(self):
        return self._df.schema

    def printSchema(self) -> None:
        self._df.printSchema()

    def show(self, num_rows: int = 20) -> None:
        self._df.show(num_rows)

    def _derive(self, dataframe: DataFrame, transformation_ctx: str = "") -> DynamicFrame:
        return DynamicFrame(dataframe, self.glue_ctx, transformation_ctx or self.name)

    def select_fields(self, paths: list[str], transformation_ctx: str = "", **_thresholds) -> DynamicFrame:
        return self._derive(self._df.select(*[F.col(path) for path in paths]), transformation_ctx)

    def drop_fields(self, paths: list[str], transformation_ctx: str = "", **_thresholds) -> DynamicFrame:
        return self._derive(self._df.drop(*paths), transformation_ctx)

    def rename_field(self, oldName: str, newName: str, transformation_ctx: str = "", **_thresholds) -> DynamicFrame:
        if oldName not in self._df.columns:
            raise ValueError(f"rename_field: no field {oldName!r} in {self._df.columns}")
        return self._derive(self._df.withColumnRenamed(oldName, newName), transformation_ctx)

    def apply_mapping(self, mappings, case_sensitive: bool = False, transformation_ctx: str = "", **_thresholds):
        """Keep only the mapped fields: (source, source_type, target, target_type) casts source to target."""
        columns = []
        for mapping in mappings:
            if len(mapping) != 4:
                raise ValueError(f"apply_mapping: {mapping!r} is not (source, source_type, target, target_type)")
            source, _source_type, target, target_type = mapping
            columns.append(F.col(source).cast(target_type).alias(target))
        return self._derive(self._df.select(*columns), transformation_ctx)

    def repartition(self, num_partitions: int, transformation_ctx: str = "", **_thresholds) -> DynamicFrame:
        return self._derive(self._df.repartition(num_partitions), transformation_ctx)

    def coalesce(self, num_partitions: int, shuffle: bool = False, transformation_ctx: str = "", **_thresholds):
        frame = self._df.repartition(num_partitions) if shuffle else self._df.coalesce(num_partitions)
        return self._derive(frame, transformation_ctx)


class DynamicFrameReader:
    """glue_context.create_dynamic_frame.from_catalog / .from_options."""

    def __init__(self, glue_context):
        self._glue_context = glue_context

    def from_catalog(
        self,
        database=None,
        table_name=None,
        redshift_tmp_dir="",
        transformation_ctx="",
        push_down_predicate="",
        additional_options=None,
        catalog_id=None,
        **kwargs,
    ) -> DynamicFrame:
        return self._glue_context.create_dynamic_frame_from_catalog(
            database,
            table_name,
            redshift_tmp_dir,
            transformation_ctx,
            push_down_predicate,
            additional_options,
            catalog_id,
            **kwargs,
        )

    def from_options(
        self,
        connection_type,
        connection_options=None,
        format=None,
        format_options=None,
        transformation_ctx="",
        push_down_predicate="",
        **kwargs,
    ) -> DynamicFrame:
        return self._glue_context.create_dynamic_frame_from_options(
            connection_type,
            connection_options,
            format,
            format_options,
            transformation_ctx,
            push_down_predicate,
            **kwargs,
        )


class DynamicFrameWriter:
    """glue_context.write_dynamic_frame.from_options."""

    def __init__(self, glue_context):
        self._glue_context = glue_context

    def from_options(
        self, frame, connection_type, connection_options=None, format=None, format_options=None, transformation_ctx=""
    ) -> DynamicFrame:
        return self._glue_context.write_dynamic_frame_from_options(
            frame, connection_type, connection_options, format, format_options, transformation_ctx
        )
