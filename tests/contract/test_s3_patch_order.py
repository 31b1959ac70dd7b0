"""Executors wrap moto's S3 in their declared order (encryption after versioning), whatever imported their modules first."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

from tests.conftest import REPO_ROOT

# Its own interpreter: the modules are imported before the server starts, as test collection does.
SCRIPT = textwrap.dedent(
    """
    import json, pathlib, sys
    import local_aws.s3.access_logging, local_aws.s3.encryption  # before registry.install()
    import boto3
    from local_aws import config
    from local_aws.server import LocalAWS

    with LocalAWS(config.Settings(port=0, work_dir=pathlib.Path(sys.argv[1]))) as server:
        s3 = boto3.client("s3", region_name="us-east-1", endpoint_url=server.endpoint_url,
                          aws_access_key_id="testing", aws_secret_access_key="testing")
        s3.create_bucket(Bucket="suspended")
        s3.put_bucket_versioning(Bucket="suspended", VersioningConfiguration={"Status": "Enabled"})
        kept = s3.put_object(Bucket="suspended", Key="k", Body=b"v1")["VersionId"]
        s3.put_bucket_versioning(Bucket="suspended", VersioningConfiguration={"Status": "Suspended"})
        s3.put_object(Bucket="suspended", Key="k", Body=b"null-1")
        s3.put_object(Bucket="suspended", Key="k", Body=b"null-2")
        versions = s3.list_object_versions(Bucket="suspended")["Versions"]
        bodies = {
            v["VersionId"] == kept and "kept" or v["VersionId"]:
            s3.get_object(Bucket="suspended", Key="k", VersionId=v["VersionId"])["Body"].read().decode()
            for v in versions
        }
        encryption = s3.head_object(Bucket="suspended", Key="k")["ServerSideEncryption"]
    print(json.dumps({"versions": bodies, "encryption": encryption}))
    """
)


def test_encryption_wraps_suspended_versioning_even_when_imported_first(tmp_path):
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path)], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    # AWS keeps the versions from before the suspension; writes replace only the null version.
    assert result == {"versions": {"kept": "v1", "null": "null-2"}, "encryption": "AES256"}
