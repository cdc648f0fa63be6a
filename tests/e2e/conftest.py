import pytest
import requests
from openai import OpenAI

# Session fixtures of the model-preparation and retrieval tests (exports, stand-in hub, their config).
from tests.e2e.prepared_models import (  # noqa: F401
    exported_minilm,
    exported_reranker,
    hub,
    preparation_root,
    pulled_models,
    retrieval_config,
    tiny_cross_encoder,
)
from tests.e2e.server import FIXTURES, serving
from tests.e2e.upload_serializers import upload_bytes  # noqa: F401 (registers it with schemathesis)

DEFAULT_MODEL = "HuggingFaceTB/SmolLM2-135M-Instruct"
WATCHDOG_SECONDS = 10
PREFIXED_MODEL = "smollm2-prefixed"
# deterministic: true, no prefix cache. Tests that compare generated text between requests use it: in bf16
# (the default) greedy output depends on the batch and on prefix-cache hits, differently on each CPU
# (AVX-512 bf16 EPYC, AMX Xeon), so such a comparison on the default servable fails on some machine.
DETERMINISTIC_MODEL = "smollm2-deterministic"
LIMITED_MODEL = "smollm2-limited"  # max_num_seqs 2 + 1 queued, 10 s request timeout
PROMPT_LOOKUP_MODEL = "smollm2-prompt-lookup"  # prompt_lookup: true


def pytest_collection_modifyitems(items):
    for item in items:
        if "/e2e/" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    log = tmp_path_factory.mktemp("server") / "server.log"
    with serving(FIXTURES / "config.json", "--watchdog-seconds", str(WATCHDOG_SECONDS), log_path=log) as running:
        yield running


@pytest.fixture(scope="session")
def base_url(server):
    return server.base


@pytest.fixture(scope="session")
def client(server):
    return OpenAI(base_url=server.base + "/v3", api_key="unused", max_retries=0, timeout=120)


@pytest.fixture()
def http():
    with requests.Session() as session:
        yield session
