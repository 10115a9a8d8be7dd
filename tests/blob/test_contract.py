"""The shipped conformance suite, run unchanged against every backend."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from aiflow_storage.blob import BlobManager
from aiflow_storage.blob.testing import BlobManagerContract


class TestContract(BlobManagerContract):
    @pytest.fixture
    def blob(self, backend: str, make_manager: Callable[[str], BlobManager]) -> BlobManager:
        return make_manager(backend)
