"""The Azure Blob Storage backend, through adlfs.

Configuration:

``container``          container holding the blobs (required)
``root_directory``     prefix inside the container (optional)
``account_name``       storage account
``account_key``        shared key of the account
``sas_token``          a shared access signature instead of the key
``connection_string``  a full connection string instead of the keys above
``endpoint``           blob endpoint, e.g. ``http://127.0.0.1:10000/devstoreaccount1``
                       for Azurite (used with ``account_name`` + ``account_key``)
``credential``         ``default`` to use azure-identity's default credential chain

One way of authenticating is required; the manager never falls back to
anonymous access. Needs ``pip install 'aiflow-engine[azure]'``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiflow_storage.blob.errors import BlobConfigError
from aiflow_storage.blob.manager import FsspecBlobManager, require

__all__ = ["AzureBlobManager"]


class AzureBlobManager(FsspecBlobManager):
    """Blobs in an Azure storage container."""

    def _storage(self, config: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        name = type(self).__name__
        container = str(config.get("container") or require(config, "container_name", name))
        options: dict[str, Any] = {"anon": False, "use_listings_cache": False}
        account, key = config.get("account_name"), config.get("account_key")
        if config.get("connection_string"):
            options["connection_string"] = str(config["connection_string"])
        elif config.get("endpoint"):
            if not (account and key):
                raise BlobConfigError(f"{name} with an endpoint needs account_name and account_key")
            endpoint = str(config["endpoint"]).rstrip("/")
            scheme = endpoint.split("://", 1)[0] if "://" in endpoint else "https"
            options["connection_string"] = (
                f"DefaultEndpointsProtocol={scheme};AccountName={account};"
                f"AccountKey={key};BlobEndpoint={endpoint};"
            )
        elif account and (key or config.get("sas_token")):
            options["account_name"] = str(account)
            if key:
                options["account_key"] = str(key)
            else:
                options["sas_token"] = str(config["sas_token"])
        elif account and config.get("credential") == "default":
            options["account_name"] = str(account)
        else:
            raise BlobConfigError(
                f"{name} needs connection_string, account_name with account_key or sas_token, "
                "endpoint with account_name and account_key, or account_name with "
                "credential: default"
            )
        prefix = str(config.get("root_directory") or "").strip("/")
        return f"abfs://{container.strip('/')}/{prefix}".rstrip("/"), options
