"""The AWS side of genolake's configuration and clients (plain library, no dagster import).

* ``AwsSettings.from_env()`` reads the aws mode's environment (names match the Terraform outputs) when asked,
  never at import time; a missing variable is one clear message that names it.
* ``client(service)`` builds a boto3 client with the default credential chain. botocore itself honours
  ``AWS_ENDPOINT_URL`` and ``AWS_ENDPOINT_URL_<SERVICE>``, so the same code runs against a local emulator
  (moto server) and AWS. Retries are botocore's ``standard`` mode (throttling, 5xx, connection errors).
* ``aws_errors(what)`` turns the three failures users meet first (no endpoint, no credentials, access denied)
  into ``AwsError`` with a message that says what was being done and what to check.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import urlparse

ENV = {
    "landing_uri": "GENOLAKE_LANDING_URI",
    "raw_uri": "GENOLAKE_RAW_URI",
    "quarantine_uri": "GENOLAKE_QUARANTINE_URI",
    "warehouse_uri": "GENOLAKE_WAREHOUSE_URI",
    "glue_database": "GENOLAKE_GLUE_DATABASE",
    "athena_workgroup": "GENOLAKE_ATHENA_WORKGROUP",
    "athena_results_uri": "GENOLAKE_ATHENA_RESULTS_URI",
    "region": "AWS_REGION",
}
URI_FIELDS = ("landing_uri", "raw_uri", "quarantine_uri", "warehouse_uri", "athena_results_uri")
DENIED = {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "InvalidAccessKeyId",
          "SignatureDoesNotMatch", "ExpiredToken", "UnrecognizedClientException", "AuthorizationError"}


class AwsConfigError(ValueError):
    """A missing or malformed aws-mode setting."""


class AwsError(RuntimeError):
    """An AWS call that failed for a reason the user can act on (endpoint, credentials, permissions)."""


@dataclass(frozen=True)
class AwsSettings:
    landing_uri: str
    raw_uri: str
    quarantine_uri: str
    warehouse_uri: str
    glue_database: str
    athena_workgroup: str
    athena_results_uri: str
    region: str

    @classmethod
    def from_env(cls, environ=None) -> "AwsSettings":
        environ = os.environ if environ is None else environ
        values, missing = {}, []
        for name, variable in ENV.items():
            value = (environ.get(variable) or "").strip()
            if not value and name == "region":
                value = (environ.get("AWS_DEFAULT_REGION") or "").strip()
            if not value:
                missing.append(variable)
            values[name] = value
        if missing:
            raise AwsConfigError(
                f"GENOLAKE_MODE=aws needs {', '.join(missing)} (set {'it' if len(missing) == 1 else 'them'} from "
                "`terraform output`, see README 'Run on AWS')")
        for name in URI_FIELDS:
            bucket, _ = split_uri(values[name], ENV[name])
            if not bucket:
                raise AwsConfigError(f"{ENV[name]}={values[name]!r}: expected s3://bucket[/prefix]")
        return cls(**values)


def split_uri(uri: str, what: str = "URI") -> tuple[str, str]:
    """``s3://bucket/some/prefix`` -> (``bucket``, ``some/prefix``)."""
    parsed = urlparse(uri)
    if parsed.scheme not in ("s3", "s3a"):
        raise AwsConfigError(f"{what}={uri!r}: expected s3://bucket[/prefix]")
    return parsed.netloc, parsed.path.strip("/")


def endpoint(service: str) -> str | None:
    """The endpoint botocore will use for ``service`` (None: AWS's own)."""
    return os.environ.get(f"AWS_ENDPOINT_URL_{service.upper().replace('-', '_')}") or os.environ.get("AWS_ENDPOINT_URL")


def client(service: str, region: str | None = None):
    import boto3
    from botocore.config import Config

    region = region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    config = Config(retries={"mode": "standard", "max_attempts": 5}, connect_timeout=5, read_timeout=60)
    return boto3.session.Session().client(service, region_name=region, config=config)


@contextmanager
def aws_errors(what: str):
    """Re-raise botocore's endpoint, credential and permission errors as one-line ``AwsError``s."""
    from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError, NoRegionError

    try:
        yield
    except EndpointConnectionError as exc:
        raise AwsError(f"{what}: cannot reach {exc.kwargs.get('endpoint_url', 'the AWS endpoint')} "
                       "(check AWS_ENDPOINT_URL / network)") from exc
    except NoCredentialsError as exc:
        raise AwsError(f"{what}: no AWS credentials found (environment, profile, or instance role)") from exc
    except NoRegionError as exc:
        raise AwsError(f"{what}: no AWS region (set AWS_REGION)") from exc
    except ClientError as exc:
        error = exc.response.get("Error", {})
        code = error.get("Code", "")
        if code in DENIED or "AccessDenied" in code:
            raise AwsError(f"{what}: access denied ({code}: {error.get('Message', '')}); the caller's role needs "
                           f"{exc.operation_name} on this resource") from exc
        raise
