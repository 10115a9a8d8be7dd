"""The Amazon S3 backend (and any S3-protocol server), through s3fs.

Configuration keys are those of the original AIFlow ``S3BlobManager``, named
after boto's client arguments:

``bucket_name``        bucket holding the blobs (required)
``root_directory``     key prefix inside the bucket (optional)
``access_key_id``      access key; with ``secret_access_key`` (and
                       ``session_token`` for temporary credentials)
``secret_access_key``  secret key
``session_token``      session token
``region_name``        region of the bucket
``endpoint_url``       endpoint of an S3-protocol server
``use_ssl``            whether to use TLS
``verify``             whether to verify certificates (or a CA bundle path)
``api_version``        S3 API version
``config``             advanced botocore ``Config`` options (a mapping)
``service_name``       accepted for compatibility; must be ``s3``

Without keys, boto's usual chain applies (environment, shared files,
instance roles); a missing or refused credential is an error, never an
anonymous retry. Needs ``pip install 'aiflow-engine[s3]'``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiflow_storage.blob.errors import BlobConfigError
from aiflow_storage.blob.manager import FsspecBlobManager, require

__all__ = ["S3BlobManager", "s3_credentials"]

_CLIENT_KEYS = ("region_name", "endpoint_url", "use_ssl", "verify", "api_version")


def s3_credentials(manager: str, key: Any, secret: Any, token: Any = None) -> dict[str, Any]:
    """Return s3fs credential options, refusing a key without its secret (or the reverse)."""
    if bool(key) != bool(secret):
        raise BlobConfigError(
            f"{manager} needs both an access key id and its secret, or neither "
            "(to use the default credential chain)"
        )
    options: dict[str, Any] = {"anon": False}
    if key:
        options.update(key=str(key), secret=str(secret))
    if token:
        options["token"] = str(token)
    return options


class S3BlobManager(FsspecBlobManager):
    """Blobs in an S3 bucket (see the module docstring for the keys)."""

    def _storage(self, config: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        name = type(self).__name__
        bucket = str(require(config, "bucket_name", name)).strip("/")
        service = config.get("service_name") or "s3"
        if service != "s3":
            raise BlobConfigError(f"{name} service_name must be 's3', got {service!r}")
        advanced = config.get("config") or {}
        if not isinstance(advanced, Mapping):
            raise BlobConfigError(f"{name} 'config' must be a mapping of botocore Config options")
        options = s3_credentials(
            name,
            config.get("access_key_id"),
            config.get("secret_access_key"),
            config.get("session_token"),
        )
        options["client_kwargs"] = {
            k: config[k] for k in _CLIENT_KEYS if config.get(k) not in (None, "")
        }
        options["config_kwargs"] = dict(advanced)
        options["use_listings_cache"] = False
        prefix = str(config.get("root_directory") or "").strip("/")
        return f"s3://{bucket}/{prefix}".rstrip("/"), options
