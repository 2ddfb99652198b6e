"""The artifacts bucket the Lambda zip is uploaded to before the stack that runs it is deployed.

The zip's key is its sha256, so deploying unchanged code changes nothing and new code always updates the
function (CloudFormation only sees the S3 key).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from infra.errors import InfraError
from infra.package import sha256_of

CODE_KEY_PREFIX = "lambda"


class ArtifactError(InfraError):
    """The artifacts bucket could not be created or written; the message says why and what to do."""


def default_bucket_name(resource_prefix: str, account_id: str, region: str) -> str:
    return f"{resource_prefix}-artifacts-{account_id}-{region}"


def code_key(zip_path: Path) -> str:
    return f"{CODE_KEY_PREFIX}/{sha256_of(zip_path)}.zip"


def ensure_bucket(s3: Any, bucket: str, region: str) -> None:
    """Create the bucket if it does not exist: encrypted, private, TLS only (like the archive bucket)."""
    try:
        s3.head_bucket(Bucket=bucket)
        return
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") not in {"404", "NoSuchBucket", "NotFound"}:
            raise ArtifactError(
                f"bucket {bucket} exists but is not readable with these credentials "
                f"({error.response.get('Error', {}).get('Code')}); choose another with --code-bucket."
            ) from error
    location = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
    s3.create_bucket(Bucket=bucket, **location)
    s3.put_public_access_block(
        Bucket=bucket,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        },
    )
    s3.put_bucket_encryption(
        Bucket=bucket,
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
        },
    )
    tls_only = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "DenyInsecureTransport",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            }
        ],
    }
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(tls_only))


def upload_code(s3: Any, bucket: str, zip_path: Path) -> str:
    """Upload the zip under its content hash unless that object is already there; return the key."""
    key = code_key(zip_path)
    try:
        s3.head_object(Bucket=bucket, Key=key)
        return key
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") not in {"404", "NoSuchKey", "NotFound"}:
            raise ArtifactError(f"cannot check s3://{bucket}/{key}: {error}") from error
    s3.upload_file(str(zip_path), bucket, key)
    return key
