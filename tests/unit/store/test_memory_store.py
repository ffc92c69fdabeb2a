import pytest

from impulse_stream.store.memory import MemoryStore
from tests.store_contract import *  # noqa: F403


@pytest.fixture
def store():
    return MemoryStore()
