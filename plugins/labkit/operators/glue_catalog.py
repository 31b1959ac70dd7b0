"""The provider's GlueCatalogCreateTableOperator with its table_input templated, as its docstring says.

Amazon provider 9.39.0 documents `table_input` as templated but leaves it out of
`template_fields`, so an S3 location made from a template (`s3://{{ names.bucket('data') }}/...`)
would reach Glue unrendered. Drop this subclass once the provider templates the field.
"""

from __future__ import annotations

from airflow.providers.amazon.aws.operators.glue_catalog import (
    GlueCatalogCreateTableOperator as ProviderGlueCatalogCreateTableOperator,
)


class GlueCatalogCreateTableOperator(ProviderGlueCatalogCreateTableOperator):
    template_fields = (*ProviderGlueCatalogCreateTableOperator.template_fields, "table_input")
