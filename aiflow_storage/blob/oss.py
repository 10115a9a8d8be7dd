"""The Alibaba Cloud OSS backend, through OSS's S3-compatible API and s3fs.

Configuration keys are those of the original AIFlow ``OssBlobManager``:

``access_key_id``      AccessKey id (required)
``access_key_secret``  AccessKey secret (required)
``endpoint``           endpoint, e.g. ``oss-cn-hangzhou.aliyuncs.com`` (required)
``bucket``             bucket name (required)
``root_directory``     key prefix inside the bucket (optional)

OSS answers the S3 protocol on ``https://s3.oss-<region>.aliyuncs.com``;
an endpoint given in OSS's own form (``oss-<region>.aliyuncs.com``) is turned
into that one, and the region is taken from it. OSS serves only
virtual-hosted-style requests and does not accept the chunked uploads of
boto's V4 signing, so the defaults are ``addressing_style: virtual`` and
``signature_version: s3``; the keys ``region_name``, ``addressing_style``
and ``signature_version`` override them (an S3-protocol test server on
``127.0.0.1`` needs ``addressing_style: path``). Needs
``pip install 'aiflow-engine[oss]'``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from aiflow_storage.blob.manager import FsspecBlobManager, require
from aiflow_storage.blob.s3 import s3_credentials

__all__ = ["OssBlobManager", "oss_s3_endpoint"]

_OSS_HOST = re.compile(r"^(?:s3\.)?oss-(?P<region>[a-z0-9-]+?)(?:-internal)?\.aliyuncs\.com$")


def oss_s3_endpoint(endpoint: str) -> tuple[str, str | None]:
    """Return the S3-compatible endpoint URL for an OSS endpoint, and its region if known.

    ``oss-cn-hangzhou.aliyuncs.com`` gives
    ``("https://s3.oss-cn-hangzhou.aliyuncs.com", "cn-hangzhou")``; other
    hosts (a CNAME, a test server) are kept, with ``https://`` added when no
    scheme is given.
    """
    scheme, sep, host = endpoint.strip().rstrip("/").partition("://")
    if not sep:
        scheme, host = "https", scheme
    match = _OSS_HOST.match(host)
    if match is None:
        return f"{scheme}://{host}", None
    if not host.startswith("s3."):
        host = "s3." + host
    return f"{scheme}://{host}", match.group("region")


class OssBlobManager(FsspecBlobManager):
    """Blobs in an OSS bucket (see the module docstring for the keys)."""

    def _storage(self, config: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        name = type(self).__name__
        bucket = str(require(config, "bucket", name)).strip("/")
        endpoint, region = oss_s3_endpoint(str(require(config, "endpoint", name)))
        options = s3_credentials(
            name,
            require(config, "access_key_id", name),
            require(config, "access_key_secret", name),
        )
        client: dict[str, Any] = {"endpoint_url": endpoint}
        region = config.get("region_name") or region
        if region:
            client["region_name"] = region
        options["client_kwargs"] = client
        options["config_kwargs"] = {
            "signature_version": config.get("signature_version") or "s3",
            "s3": {"addressing_style": config.get("addressing_style") or "virtual"},
        }
        options["use_listings_cache"] = False
        prefix = str(config.get("root_directory") or "").strip("/")
        return f"s3://{bucket}/{prefix}".rstrip("/"), options
