"""awsglue.transforms: the field transforms as classes, as Glue Studio scripts call them."""

from __future__ import annotations

__all__ = ["ApplyMapping", "DropFields", "RenameField", "SelectFields"]


class ApplyMapping:
    @staticmethod
    def apply(frame, mappings, case_sensitive=False, transformation_ctx="", **thresholds):
        return frame.apply_mapping(mappings, case_sensitive, transformation_ctx, **thresholds)


class SelectFields:
    @staticmethod
    def apply(frame, paths, transformation_ctx="", **thresholds):
        return frame.select_fields(paths, transformation_ctx, **thresholds)


class DropFields:
    @staticmethod
    def apply(frame, paths, transformation_ctx="", **thresholds):
        return frame.drop_fields(paths, transformation_ctx, **thresholds)


class RenameField:
    @staticmethod
    def apply(frame, old_name, new_name, transformation_ctx="", **thresholds):
        return frame.rename_field(old_name, new_name, transformation_ctx, **thresholds)
