"""IAM and bucket-policy enforcement for every S3 request local AWS serves.

Each request is routed to its S3 operation by the S3 API model (the same router moto
uses), the operation mapped to the IAM action(s) and resource(s) AWS authorizes it
with, and the principal's identity policies and the bucket policy evaluated together
(local_aws.iam.policy.decide). A request that maps to no operation is denied to
everyone but the root rather than silently allowed. Turned off with
Settings.iam_enforcement=False (`python -m local_aws --no-iam-enforcement`).
"""

from __future__ import annotations

import logging
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote

from moto.core.routing import get_service_router
from moto.iam.access_control import PermissionResult
from moto.s3.exceptions import S3ClientError
from moto.s3.models import FakeBucket, s3_backends
from moto.s3.responses import S3Response
from werkzeug.exceptions import NotFound

from local_aws import clients, clock, config
from local_aws.iam import principals
from local_aws.iam.policy import ANONYMOUS, Principal, Request, decide, parse
from local_aws.patching import Patches

log = logging.getLogger(__name__)

# After principals: authorize() resolves access keys through them, and needs STS's own keys and the
# keys IAM deleted recorded (principals' patches) before it serves a request.
patches = Patches(__name__, after=("local_aws.iam.principals",))

BUCKET, OBJECT, ANY = "bucket", "object", "any"

# S3 API operation -> (IAM action, resource kind, IAM action when a versionId is given).
# Every operation of the S3 API model is listed (a unit test checks it), so nothing is allowed by omission.
ACTIONS: dict[str, tuple[str, str, str | None]] = {
    "AbortMultipartUpload": ("s3:AbortMultipartUpload", OBJECT, None),
    "CompleteMultipartUpload": ("s3:PutObject", OBJECT, None),
    "CopyObject": ("s3:PutObject", OBJECT, None),  # and s3:GetObject on the source, see _checks
    "CreateBucket": ("s3:CreateBucket", BUCKET, None),
    "CreateBucketMetadataConfiguration": ("s3:CreateBucketMetadataTableConfiguration", BUCKET, None),
    "CreateBucketMetadataTableConfiguration": ("s3:CreateBucketMetadataTableConfiguration", BUCKET, None),
    "CreateMultipartUpload": ("s3:PutObject", OBJECT, None),
    "CreateSession": ("s3express:CreateSession", BUCKET, None),
    "DeleteBucket": ("s3:DeleteBucket", BUCKET, None),
    "DeleteBucketAnalyticsConfiguration": ("s3:PutAnalyticsConfiguration", BUCKET, None),
    "DeleteBucketCors": ("s3:PutBucketCORS", BUCKET, None),
    "DeleteBucketEncryption": ("s3:PutEncryptionConfiguration", BUCKET, None),
    "DeleteBucketIntelligentTieringConfiguration": ("s3:PutIntelligentTieringConfiguration", BUCKET, None),
    "DeleteBucketInventoryConfiguration": ("s3:PutInventoryConfiguration", BUCKET, None),
    "DeleteBucketLifecycle": ("s3:PutLifecycleConfiguration", BUCKET, None),
    "DeleteBucketMetadataConfiguration": ("s3:DeleteBucketMetadataTableConfiguration", BUCKET, None),
    "DeleteBucketMetadataTableConfiguration": ("s3:DeleteBucketMetadataTableConfiguration", BUCKET, None),
    "DeleteBucketMetricsConfiguration": ("s3:PutMetricsConfiguration", BUCKET, None),
    "DeleteBucketOwnershipControls": ("s3:PutBucketOwnershipControls", BUCKET, None),
    "DeleteBucketPolicy": ("s3:DeleteBucketPolicy", BUCKET, None),
    "DeleteBucketReplication": ("s3:PutReplicationConfiguration", BUCKET, None),
    "DeleteBucketTagging": ("s3:PutBucketTagging", BUCKET, None),
    "DeleteBucketWebsite": ("s3:DeleteBucketWebsite", BUCKET, None),
    "DeleteObject": ("s3:DeleteObject", OBJECT, "s3:DeleteObjectVersion"),
    "DeleteObjectAnnotation": ("s3:DeleteObjectAnnotation", OBJECT, None),
    "DeleteObjectTagging": ("s3:DeleteObjectTagging", OBJECT, "s3:DeleteObjectVersionTagging"),
    "DeleteObjects": ("s3:DeleteObject", OBJECT, "s3:DeleteObjectVersion"),  # per key, see _checks
    "DeletePublicAccessBlock": ("s3:PutBucketPublicAccessBlock", BUCKET, None),
    "GetBucketAbac": ("s3:GetBucketAbac", BUCKET, None),
    "GetBucketAccelerateConfiguration": ("s3:GetAccelerateConfiguration", BUCKET, None),
    "GetBucketAcl": ("s3:GetBucketAcl", BUCKET, None),
    "GetBucketAnalyticsConfiguration": ("s3:GetAnalyticsConfiguration", BUCKET, None),
    "GetBucketCors": ("s3:GetBucketCORS", BUCKET, None),
    "GetBucketEncryption": ("s3:GetEncryptionConfiguration", BUCKET, None),
    "GetBucketIntelligentTieringConfiguration": ("s3:GetIntelligentTieringConfiguration", BUCKET, None),
    "GetBucketInventoryConfiguration": ("s3:GetInventoryConfiguration", BUCKET, None),
    "GetBucketLifecycle": ("s3:GetLifecycleConfiguration", BUCKET, None),
    "GetBucketLifecycleConfiguration": ("s3:GetLifecycleConfiguration", BUCKET, None),
    "GetBucketLocation": ("s3:GetBucketLocation", BUCKET, None),
    "GetBucketLogging": ("s3:GetBucketLogging", BUCKET, None),
    "GetBucketMetadataConfiguration": ("s3:GetBucketMetadataTableConfiguration", BUCKET, None),
    "GetBucketMetadataTableConfiguration": ("s3:GetBucketMetadataTableConfiguration", BUCKET, None),
    "GetBucketMetricsConfiguration": ("s3:GetMetricsConfiguration", BUCKET, None),
    "GetBucketNotification": ("s3:GetBucketNotification", BUCKET, None),
    "GetBucketNotificationConfiguration": ("s3:GetBucketNotification", BUCKET, None),
    "GetBucketOwnershipControls": ("s3:GetBucketOwnershipControls", BUCKET, None),
    "GetBucketPolicy": ("s3:GetBucketPolicy", BUCKET, None),
    "GetBucketPolicyStatus": ("s3:GetBucketPolicyStatus", BUCKET, None),
    "GetBucketReplication": ("s3:GetReplicationConfiguration", BUCKET, None),
    "GetBucketRequestPayment": ("s3:GetBucketRequestPayment", BUCKET, None),
    "GetBucketTagging": ("s3:GetBucketTagging", BUCKET, None),
    "GetBucketVersioning": ("s3:GetBucketVersioning", BUCKET, None),
    "GetBucketWebsite": ("s3:GetBucketWebsite", BUCKET, None),
    "GetObject": ("s3:GetObject", OBJECT, "s3:GetObjectVersion"),
    "GetObjectAcl": ("s3:GetObjectAcl", OBJECT, "s3:GetObjectVersionAcl"),
    "GetObjectAnnotation": ("s3:GetObjectAnnotation", OBJECT, None),
    "GetObjectAttributes": ("s3:GetObjectAttributes", OBJECT, "s3:GetObjectVersionAttributes"),
    "GetObjectLegalHold": ("s3:GetObjectLegalHold", OBJECT, None),
    "GetObjectLockConfiguration": ("s3:GetBucketObjectLockConfiguration", BUCKET, None),
    "GetObjectRetention": ("s3:GetObjectRetention", OBJECT, None),
    "GetObjectTagging": ("s3:GetObjectTagging", OBJECT, "s3:GetObjectVersionTagging"),
    "GetObjectTorrent": ("s3:GetObjectTorrent", OBJECT, "s3:GetObjectVersionTorrent"),
    "GetPublicAccessBlock": ("s3:GetBucketPublicAccessBlock", BUCKET, None),
    "HeadBucket": ("s3:ListBucket", BUCKET, None),
    "HeadObject": ("s3:GetObject", OBJECT, "s3:GetObjectVersion"),
    "ListBucketAnalyticsConfigurations": ("s3:GetAnalyticsConfiguration", BUCKET, None),
    "ListBucketIntelligentTieringConfigurations": ("s3:GetIntelligentTieringConfiguration", BUCKET, None),
    "ListBucketInventoryConfigurations": ("s3:GetInventoryConfiguration", BUCKET, None),
    "ListBucketMetricsConfigurations": ("s3:GetMetricsConfiguration", BUCKET, None),
    "ListBuckets": ("s3:ListAllMyBuckets", ANY, None),
    "ListDirectoryBuckets": ("s3express:ListAllMyDirectoryBuckets", ANY, None),
    "ListMultipartUploads": ("s3:ListBucketMultipartUploads", BUCKET, None),
    "ListObjectAnnotations": ("s3:ListObjectAnnotations", OBJECT, None),
    "ListObjectVersions": ("s3:ListBucketVersions", BUCKET, None),
    "ListObjects": ("s3:ListBucket", BUCKET, None),
    "ListObjectsV2": ("s3:ListBucket", BUCKET, None),
    "ListParts": ("s3:ListMultipartUploadParts", OBJECT, None),
    "PutBucketAbac": ("s3:PutBucketAbac", BUCKET, None),
    "PutBucketAccelerateConfiguration": ("s3:PutAccelerateConfiguration", BUCKET, None),
    "PutBucketAcl": ("s3:PutBucketAcl", BUCKET, None),
    "PutBucketAnalyticsConfiguration": ("s3:PutAnalyticsConfiguration", BUCKET, None),
    "PutBucketCors": ("s3:PutBucketCORS", BUCKET, None),
    "PutBucketEncryption": ("s3:PutEncryptionConfiguration", BUCKET, None),
    "PutBucketIntelligentTieringConfiguration": ("s3:PutIntelligentTieringConfiguration", BUCKET, None),
    "PutBucketInventoryConfiguration": ("s3:PutInventoryConfiguration", BUCKET, None),
    "PutBucketLifecycle": ("s3:PutLifecycleConfiguration", BUCKET, None),
    "PutBucketLifecycleConfiguration": ("s3:PutLifecycleConfiguration", BUCKET, None),
    "PutBucketLogging": ("s3:PutBucketLogging", BUCKET, None),
    "PutBucketMetricsConfiguration": ("s3:PutMetricsConfiguration", BUCKET, None),
    "PutBucketNotification": ("s3:PutBucketNotification", BUCKET, None),
    "PutBucketNotificationConfiguration": ("s3:PutBucketNotification", BUCKET, None),
    "PutBucketOwnershipControls": ("s3:PutBucketOwnershipControls", BUCKET, None),
    "PutBucketPolicy": ("s3:PutBucketPolicy", BUCKET, None),
    "PutBucketReplication": ("s3:PutReplicationConfiguration", BUCKET, None),
    "PutBucketRequestPayment": ("s3:PutBucketRequestPayment", BUCKET, None),
    "PutBucketTagging": ("s3:PutBucketTagging", BUCKET, None),
    "PutBucketVersioning": ("s3:PutBucketVersioning", BUCKET, None),
    "PutBucketWebsite": ("s3:PutBucketWebsite", BUCKET, None),
    "PutObject": ("s3:PutObject", OBJECT, None),
    "PutObjectAcl": ("s3:PutObjectAcl", OBJECT, "s3:PutObjectVersionAcl"),
    "PutObjectAnnotation": ("s3:PutObjectAnnotation", OBJECT, None),
    "PutObjectLegalHold": ("s3:PutObjectLegalHold", OBJECT, None),
    "PutObjectLockConfiguration": ("s3:PutBucketObjectLockConfiguration", BUCKET, None),
    "PutObjectRetention": ("s3:PutObjectRetention", OBJECT, None),
    "PutObjectTagging": ("s3:PutObjectTagging", OBJECT, "s3:PutObjectVersionTagging"),
    "PutPublicAccessBlock": ("s3:PutBucketPublicAccessBlock", BUCKET, None),
    "RenameObject": ("s3:RenameObject", OBJECT, None),
    "RestoreObject": ("s3:RestoreObject", OBJECT, None),
    "SelectObjectContent": ("s3:GetObject", OBJECT, None),
    "UpdateBucketMetadataAnnotationTableConfiguration": (
        "s3:UpdateBucketMetadataAnnotationTableConfiguration",
        BUCKET,
        None,
    ),
    "UpdateBucketMetadataInventoryTableConfiguration": (
        "s3:UpdateBucketMetadataInventoryTableConfiguration",
        BUCKET,
        None,
    ),
    "UpdateBucketMetadataJournalTableConfiguration": ("s3:UpdateBucketMetadataJournalTableConfiguration", BUCKET, None),
    "UpdateObjectEncryption": ("s3:PutObject", OBJECT, None),
    "UploadPart": ("s3:PutObject", OBJECT, None),
    "UploadPartCopy": ("s3:PutObject", OBJECT, None),  # and s3:GetObject on the source
    "WriteGetObjectResponse": ("s3-object-lambda:WriteGetObjectResponse", ANY, None),
    # moto's additions to the model: browser-form uploads (POST policy)
    "PostObject": ("s3:PutObject", OBJECT, None),
}
# CORS preflight requests carry no credentials and are answered from the CORS configuration alone.
UNAUTHORIZED_OPERATIONS = {"BucketCORSPreflightCheck", "ObjectCORSPreflightCheck"}


class AccessDenied(S3ClientError):
    code = "AccessDenied"

    def __init__(self, message: str):
        super().__init__("AccessDenied", message)


class CredentialRejected(S3ClientError):
    def __init__(self, code: str, message: str):
        super().__init__(code, message)


@dataclass
class Check:
    action: str
    resource: str
    context: dict[str, Any] = field(default_factory=dict)
    bucket: str = ""


def bucket_arn(bucket: str) -> str:
    return f"arn:aws:s3:::{bucket}"


def object_arn(bucket: str, key: str) -> str:
    return f"arn:aws:s3:::{bucket}/{key}"


def _operation(request: Any) -> tuple[str | None, dict[str, Any]]:
    try:
        operation, params = get_service_router("s3").match(request)
    except NotFound:
        return None, {}
    return operation.name, params


def _backend(bucket: str, account: str):
    partition, owner = s3_backends.bucket_accounts.get(bucket, ("aws", account))
    return s3_backends[owner][partition], owner


def _object_tags(bucket: str, key: str, version_id: str | None, account: str) -> dict[str, str] | None:
    backend, _ = _backend(bucket, account)
    try:
        obj = backend.get_object(bucket, key, version_id=version_id)
    except Exception:  # no such bucket/key/version: the operation reports that itself
        return None
    if obj is None:
        return None
    return backend.tagger.get_tag_dict_for_resource(obj.arn)


def _request_tags(header: str | None) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(header or "", keep_blank_values=True).items()}


def _object_context(bucket: str, key: str, version_id: str | None, account: str, headers: Any) -> dict[str, Any]:
    context: dict[str, Any] = {}
    tags = _object_tags(bucket, key, version_id, account)
    for name, value in (tags or {}).items():
        context[f"s3:existingobjecttag/{name.lower()}"] = value
    if version_id:
        context["s3:versionid"] = version_id
    for header in (
        "x-amz-server-side-encryption",
        "x-amz-server-side-encryption-aws-kms-key-id",
        "x-amz-acl",
        "x-amz-storage-class",
        "x-amz-metadata-directive",
        "x-amz-copy-source",
        "x-amz-grant-read",
        "x-amz-grant-write",
        "x-amz-grant-full-control",
        "x-amz-object-lock-mode",
        "x-amz-object-lock-legal-hold",
    ):
        if headers.get(header) is not None:
            context[f"s3:{header}"] = headers.get(header)
    request_tags = _request_tags(headers.get("x-amz-tagging"))
    for name, value in request_tags.items():
        context[f"s3:requestobjecttag/{name.lower()}"] = value
    if request_tags:
        context["s3:requestobjecttagkeys"] = list(request_tags)
    return context


def _copy_source(header: str) -> tuple[str, str, str | None]:
    source, _, query = unquote(header).lstrip("/").partition("?")
    bucket, _, key = source.partition("/")
    version = parse_qs(query).get("versionId", [None])[0]
    return bucket, key, version


def _deleted_keys(body: bytes) -> list[tuple[str, str | None]]:
    try:
        root = ElementTree.fromstring(body)
    except ElementTree.ParseError:
        return []
    keys = []
    for element in root.iter():
        if element.tag.rsplit("}", 1)[-1] == "Object":
            values = {child.tag.rsplit("}", 1)[-1]: child.text for child in element}
            keys.append((values.get("Key") or "", values.get("VersionId")))
    return keys


def checks_for(request: Any, account: str) -> list[Check] | None:
    """What AWS authorizes for this request: one or more (action, resource) checks; None if unmappable."""
    operation, params = _operation(request)
    if operation in UNAUTHORIZED_OPERATIONS:
        return []
    if operation not in ACTIONS:
        return None
    action, kind, version_action = ACTIONS[operation]
    bucket = params.get("Bucket", "")
    key = params.get("Key", "")
    headers, args = request.headers, request.args
    version_id = args.get("versionId")
    if version_id and version_action:
        action = version_action
    if kind == ANY:
        return [Check(action, "*")]
    if kind == BUCKET:
        context = {}
        for name in ("prefix", "delimiter", "max-keys"):
            if name in args:
                context[f"s3:{name}"] = args[name]
        if operation == "CreateBucket":
            for header in ("x-amz-acl", "x-amz-object-ownership"):
                if headers.get(header) is not None:
                    context[f"s3:{header}"] = headers[header]
        return [Check(action, bucket_arn(bucket), context, bucket)]

    if operation == "PostObject":
        key = request.form.get("key", "")
    if operation == "DeleteObjects":
        return [
            Check(
                version_action if vid else action,
                object_arn(bucket, k),
                _object_context(bucket, k, vid, account, {}),
                bucket,
            )
            for k, vid in _deleted_keys(request.get_data())
        ]
    checks = [
        Check(action, object_arn(bucket, key), _object_context(bucket, key, version_id, account, headers), bucket)
    ]
    if operation == "PutObject" and any(
        headers.get(h) for h in ("x-amz-acl", "x-amz-grant-read", "x-amz-grant-full-control")
    ):
        checks.append(Check("s3:PutObjectAcl", checks[0].resource, checks[0].context, bucket))
    if operation in ("PutObject", "CopyObject", "CreateMultipartUpload") and headers.get("x-amz-tagging"):
        checks.append(Check("s3:PutObjectTagging", checks[0].resource, checks[0].context, bucket))
    if operation in ("CopyObject", "UploadPartCopy"):
        src_bucket, src_key, src_version = _copy_source(headers.get("x-amz-copy-source", ""))
        checks.append(
            Check(
                "s3:GetObjectVersion" if src_version else "s3:GetObject",
                object_arn(src_bucket, src_key),
                _object_context(src_bucket, src_key, src_version, account, {}),
                src_bucket,
            )
        )
    return checks


def _secure_transport(request: Any, access_key: str | None) -> bool:
    """The request came over TLS, or from local AWS's own executors (Glue's Spark, Athena, crawlers),
    which stand for AWS services: those always use TLS on AWS, so an HTTPS-only bucket policy must not
    stop them here either."""
    return request.scheme == "https" or access_key == clients.ACCESS_KEY


def _global_context(principal: Principal, request: Any, secure: bool) -> dict[str, Any]:
    now = clock.now()  # local AWS's time, as on the objects' timestamps
    context: dict[str, Any] = {
        "aws:securetransport": "true" if secure else "false",
        "aws:currenttime": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "aws:epochtime": str(int(now.timestamp())),
        "aws:requestedregion": "us-east-1",
        "s3:signatureversion": "AWS4-HMAC-SHA256",
        "s3:authtype": "REST-QUERY-STRING" if "X-Amz-Credential" in request.args else "REST-HEADER",
    }
    if request.remote_addr:
        context["aws:sourceip"] = request.remote_addr
    for header, key in (("User-Agent", "aws:useragent"), ("Referer", "aws:referer")):
        if request.headers.get(header):
            context[key] = request.headers[header]
    if principal.kind != ANONYMOUS:
        context["aws:principalarn"] = principal.principal_arn
        context["aws:principalaccount"] = principal.account
        context["aws:userid"] = principal.user_id
        context["aws:principaltype"] = {"root": "Account", "user": "User", "assumed-role": "AssumedRole"}[
            principal.kind
        ]
        if principal.kind == "user":
            context["aws:username"] = principal.name
    return context


def _bucket_policy(bucket: str, account: str) -> tuple[dict[str, Any] | None, str]:
    backend, owner = _backend(bucket, account)
    stored = backend.buckets.get(bucket)
    if stored is None or not stored.policy:
        return None, owner
    return parse(stored.policy), owner


def authorize(response: S3Response, request: Any) -> None:
    """Raise AccessDenied (or a credential error) unless policies allow the request."""
    if not config.settings.iam_enforcement:
        return
    account = response.current_account
    access_key = principals.access_key_of(request.headers, request.args, request.form)
    token = request.headers.get("X-Amz-Security-Token") or request.args.get("X-Amz-Security-Token")
    try:
        principal = principals.resolve(access_key, account, token)
    except principals.CredentialError as error:
        raise CredentialRejected(error.code, error.message) from None
    if principal.kind == "root" and "x-amz-copy-source" not in request.headers:
        # Fast path for the usual dummy keys (every executor's S3 traffic): only a bucket policy can deny
        # the root of the bucket's own account (another account's root needs the bucket policy's Allow).
        if not response.bucket_name:
            return
        bucket_policy, owner = _bucket_policy(response.bucket_name, account)
        if bucket_policy is None and owner == account:
            return
    checks = checks_for(request, account)
    if checks is None:
        if principal.kind == "root":
            return
        raise AccessDenied(
            f"local AWS cannot tell which S3 action {request.method} {request.path} needs, "
            "so only the account root may send it"
        )
    if not checks:
        return
    base = _global_context(principal, request, _secure_transport(request, access_key))
    identity = principals.identity_policies(principal)
    for check in checks:
        policy, owner = _bucket_policy(check.bucket, account) if check.bucket else (None, account)
        question = Request(principal, check.action, check.resource, {**base, **check.context})
        decision = decide(question, identity, policy, owner)
        if not decision.allowed:
            message = decision.message(question)
            log.info("S3 denied: %s", message)
            raise AccessDenied(message)


def _no_second_opinion(self: FakeBucket, action: str, resource: str) -> PermissionResult:
    """Replaces moto's own bucket-policy check, which ignores Principal and Condition.

    With enforcement on, authorize() has decided already; with it off, no policy denies anything
    (moto's check of anonymous requests against object ACLs stays, as in plain moto).
    """
    return PermissionResult.PERMITTED if config.settings.iam_enforcement else PermissionResult.NEUTRAL


patches.replace(FakeBucket, "get_permission", _no_second_opinion)


@patches.wrap(S3Response, "_bucket_response")
def _bucket_response(original, self: S3Response, request: Any, full_url: str):
    authorize(self, request)
    return original(self, request, full_url)


@patches.wrap(S3Response, "_key_response")
def _key_response(original, self: S3Response, request: Any, full_url: str):
    authorize(self, request)
    return original(self, request, full_url)
