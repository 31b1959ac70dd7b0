"""Ship local Python code to S3: packages for Glue's --extra-py-files, Lambda deployment packages."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Sequence
from pathlib import Path

from airflow.providers.amazon.aws.hooks.s3 import S3Hook
from airflow.providers.amazon.aws.operators.base_aws import AwsBaseOperator
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields

# Fixed timestamp so the same sources always give the same bytes (and the same ETag).
_ZIP_EPOCH = (2020, 1, 1, 0, 0, 0)


def zip_package(package_dir: Path) -> bytes:
    """A zip with `package_dir` at its root (e.g. etl/__init__.py), .py files only, reproducible."""
    package_dir = Path(package_dir)
    if not (package_dir / "__init__.py").exists():
        raise ValueError(f"{package_dir} is not a Python package (no __init__.py)")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(package_dir.rglob("*.py")):
            info = zipfile.ZipInfo(str(path.relative_to(package_dir.parent)), date_time=_ZIP_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes())
    return buffer.getvalue()


class S3UploadPythonPackageOperator(AwsBaseOperator[S3Hook]):
    """Zip a local package and upload it (replacing the old one); returns the s3:// URI."""

    aws_hook_class = S3Hook
    template_fields: Sequence[str] = aws_template_fields("package_dir", "bucket_name", "key")

    def __init__(self, *, package_dir: str, bucket_name: str, key: str, **kwargs):
        super().__init__(**kwargs)
        self.package_dir = package_dir
        self.bucket_name = bucket_name
        self.key = key

    def execute(self, context) -> str:
        data = zip_package(Path(self.package_dir))
        self.hook.load_bytes(data, key=self.key, bucket_name=self.bucket_name, replace=True)
        uri = f"s3://{self.bucket_name}/{self.key}"
        self.log.info("Uploaded %s (%d bytes) to %s", self.package_dir, len(data), uri)
        return uri


def _portable(tag: str) -> bool:
    """A wheel tag Lambda's x86_64 Python runtimes load whatever their minor version: pure or abi3."""
    _, abi, platform = tag.split("-")
    return abi in ("none", "abi3") and (
        platform == "any" or (platform.startswith("manylinux") and platform.endswith("x86_64"))
    )


def distribution_files(name: str) -> list[tuple[str, Path]]:
    """An installed distribution's files as (path in the package, path on disk); its wheel must be portable.

    The files come from the venv, so the package holds exactly the version the tests ran with. A
    wheel built for one CPython (cp311-cp311-...) would not load on Lambda's python3.12: refused.
    """
    from importlib import metadata

    distribution = metadata.distribution(name)
    tags = [line.split(":", 1)[1].strip() for line in (distribution.read_text("WHEEL") or "").splitlines()
            if line.startswith("Tag:")]  # fmt: skip
    if not tags or not all(_portable(tag) for tag in tags):
        raise ValueError(
            f"{name} is installed from a wheel tagged {tags or 'unknown'}; a Lambda package needs a pure "
            "(py3-none-any) or abi3 manylinux x86_64 wheel, which loads on any python3.x runtime"
        )
    return [
        (str(file), Path(distribution.locate_file(file)))
        for file in distribution.files or []
        if "__pycache__" not in file.parts and file.suffix != ".pyc" and not str(file).startswith("..")
    ]


def _add(archive: zipfile.ZipFile, name: str, data: bytes) -> None:
    info = zipfile.ZipInfo(name, date_time=_ZIP_EPOCH)
    info.compress_type = zipfile.ZIP_DEFLATED
    # rw-r--r--: Lambda runs the code as another user, which must be able to read it.
    info.external_attr = 0o100644 << 16
    archive.writestr(info, data)


def zip_module(module_file: Path, distributions: Sequence[str] = ()) -> bytes:
    """A Lambda deployment package: the one module file at the zip root (handler `<module>.handler`), reproducible.

    distributions: installed packages the handler needs beyond boto3 and the standard library
    (e.g. krcf), added at the zip root from the venv (see distribution_files).
    """
    module_file = Path(module_file)
    if module_file.suffix != ".py" or not module_file.is_file():
        raise ValueError(f"{module_file} is not a Python module file (e.g. lambdas/s3_move.py)")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        _add(archive, module_file.name, module_file.read_bytes())
        for name in distributions:
            for in_package, on_disk in sorted(distribution_files(name)):
                _add(archive, in_package, on_disk.read_bytes())
    return buffer.getvalue()


class S3UploadLambdaPackageOperator(AwsBaseOperator[S3Hook]):
    """Zip one handler module (and the distributions it needs) and upload it; returns the `Code` of CreateFunction.

    `code=upload.output` on LambdaCreateFunctionOperator gives it {"S3Bucket": ..., "S3Key": ...}:
    the package goes through S3 as on AWS (no zip bytes in XCom or in the rendered templates).
    """

    aws_hook_class = S3Hook
    template_fields: Sequence[str] = aws_template_fields("module_file", "bucket_name", "key")

    def __init__(self, *, module_file: str, bucket_name: str, key: str, distributions: Sequence[str] = (), **kwargs):
        super().__init__(**kwargs)
        self.module_file = module_file
        self.bucket_name = bucket_name
        self.key = key
        self.distributions = tuple(distributions)

    def execute(self, context) -> dict[str, str]:
        data = zip_module(Path(self.module_file), self.distributions)
        self.hook.load_bytes(data, key=self.key, bucket_name=self.bucket_name, replace=True)
        self.log.info(
            "Uploaded %s (%d bytes zipped) to s3://%s/%s", self.module_file, len(data), self.bucket_name, self.key
        )
        return {"S3Bucket": self.bucket_name, "S3Key": self.key}
