"""A function version's code and layers on disk, extracted once per code digest.

moto keeps the deployment package's bytes on the function (ZipFile, or the S3 object it was
created from, read at CreateFunction/UpdateFunctionCode as on AWS). Each package is unzipped
into settings.work_dir/lambda/code/<sha256>/ (the task root, cwd of the handler's process), each
layer into .../layers/<sha256>/ (AWS merges layers into /opt; here each layer's `python/` and
`python/lib/pythonX.Y/site-packages/` go on sys.path after the task root, in layer order).
"""

from __future__ import annotations

import io
import shutil
import sys
import threading
import zipfile
from pathlib import Path

from moto.awslambda.models import LambdaFunction
from moto.awslambda.utils import get_backend

from local_aws import config
from local_aws.lambda_.invoke import InvokeError

_extract_lock = threading.Lock()


def lambda_dir() -> Path:
    return Path(config.settings.work_dir) / "lambda"


def check_runtime(function: LambdaFunction) -> None:
    """Only zip-packaged Python functions run locally; anything else fails the invocation clearly."""
    if function.package_type != "Zip":
        raise InvokeError(
            "InvalidRuntimeException",
            f"function {function.function_name} is a container image; local AWS runs only zip-packaged Python "
            "functions (Runtime python3.x)",
            502,
        )
    if not (function.run_time or "").startswith("python3"):
        raise InvokeError(
            "InvalidRuntimeException",
            f"function {function.function_name} has Runtime {function.run_time!r}; local AWS runs only Python "
            "functions (python3.x). Deploy it to AWS, or port the handler to Python",
            502,
        )
    if not function.handler:
        raise InvokeError(
            "InvalidParameterValueException", f"function {function.function_name} has no Handler; set one", 400
        )


def _extract(content: bytes, target: Path, what: str) -> Path:
    """Unzip once into target (atomically: a half-written directory is never used)."""
    with _extract_lock:
        if target.is_dir():
            return target
        staging = target.with_name(target.name + ".partial")
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        try:
            with zipfile.ZipFile(io.BytesIO(content)) as archive:
                archive.extractall(staging)
        except zipfile.BadZipFile as error:
            shutil.rmtree(staging, ignore_errors=True)
            raise InvokeError(
                "InvalidZipFileException", f"{what} is not a valid zip file ({error}); upload a .zip package", 502
            ) from None
        staging.rename(target)
        return target


def task_root(function: LambdaFunction) -> Path:
    """The directory holding the function version's unzipped deployment package."""
    content = getattr(function, "code_bytes", b"") or b""
    if not content:
        location = function.code.get("S3Bucket"), function.code.get("S3Key")
        raise InvokeError(
            "InvalidParameterValueException",
            f"function {function.function_name} has no code (S3 object s3://{location[0]}/{location[1]} was not "
            "found when the code was set); run UpdateFunctionCode",
            502,
        )
    return _extract(content, lambda_dir() / "code" / function.code_digest, f"the code of {function.function_name}")


def layer_paths(function: LambdaFunction) -> list[Path]:
    """sys.path entries of the function's layers, in the function's layer order."""
    if not function.layers:
        return []
    backend = get_backend(function.account_id, function.region)
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    paths = []
    for layer in function.layers:
        layer_version = backend.layers_versions_by_arn(layer["Arn"])
        if layer_version is None or not layer_version.code_bytes:
            raise InvokeError(
                "InvalidParameterValueException",
                f"layer {layer['Arn']} of function {function.function_name} no longer exists or has no content",
                502,
            )
        root = _extract(
            layer_version.code_bytes, lambda_dir() / "layers" / layer_version.code_digest, f"layer {layer['Arn']}"
        )
        paths += [root / "python", root / "python" / "lib" / version / "site-packages"]
    return paths
