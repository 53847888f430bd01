import pytest

from msgld.inference.bundle import load_bundle
from msgld.inference.debug_model import make_debug_model


@pytest.fixture(scope="session")
def debug_model(tmp_path_factory):
    return make_debug_model(tmp_path_factory.mktemp("debug-model"))


@pytest.fixture(scope="session")
def bundle(debug_model):
    return load_bundle(debug_model)
