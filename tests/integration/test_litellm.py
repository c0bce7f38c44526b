"""Key checks against a real OpenAI-compatible server that no one here wrote: a LiteLLM proxy on
loopback whose models answer with ``mock_response`` (no upstream) and whose ``custom_auth`` hook
accepts only the keys this test names, answering others with 401 as OpenAI does.

LiteLLM is heavy (~740 MB with its proxy extras), so it lives in its own virtualenv, made by
``.ci/run`` (and by hand: see the README) at ``.venv-litellm``; ``LLMFORM_LITELLM`` may point to
another ``litellm`` executable. If it is missing or does not start, these tests FAIL: a skip
would hide that the check was never made against a real server.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from support.checking import target
from support.processes import stop_group

from llmform.checks.providers import Outcome
from llmform.checks.run import run_checks

REPO = Path(__file__).resolve().parents[2]
GOOD = "sk-litellm-good-" + secrets.token_hex(8)
GOOD_BACKUP = "sk-litellm-backup-" + secrets.token_hex(8)
BAD = "sk-litellm-bad-" + secrets.token_hex(8)
STARTUP_SECONDS = 180  # ~17 s on an idle 2-core machine; CI may be busier

CUSTOM_AUTH = """
import os

from fastapi import Request
from litellm.proxy._types import UserAPIKeyAuth

GOOD = set(os.environ["LLMFORM_TEST_GOOD_KEYS"].split(","))


async def user_api_key_auth(request: Request, api_key: str) -> UserAPIKeyAuth:
    if api_key in GOOD:
        return UserAPIKeyAuth(api_key=api_key)
    raise Exception("Invalid API key")
"""

CONFIG = """
model_list:
  - model_name: gpt-mock
    litellm_params:
      model: openai/gpt-mock
      api_key: not-used
      mock_response: "hello from a mock"
  - model_name: embed-mock
    litellm_params:
      model: openai/embed-mock
      api_key: not-used
      mock_response: "unused"
general_settings:
  custom_auth: custom_auth.user_api_key_auth
"""


@dataclass(frozen=True)
class LiteLLM:
    url: str

    @property
    def api_base(self) -> str:
        return self.url + "/v1"


def _executable() -> Path:
    configured = os.environ.get("LLMFORM_LITELLM")
    path = Path(configured) if configured else REPO / ".venv-litellm" / "bin" / "litellm"
    if not path.exists():
        pytest.fail(
            f"LiteLLM not found at {path}: run .ci/run, or create it with\n"
            "  python3 -m venv .venv-litellm && "
            ".venv-litellm/bin/pip install 'litellm[proxy]==1.106.2' 'prisma==0.15.0'\n"
            "or set LLMFORM_LITELLM to a litellm executable",
            pytrace=False,
        )
    return path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def litellm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiteLLM]:
    workdir = tmp_path_factory.mktemp("litellm")
    (workdir / "custom_auth.py").write_text(CUSTOM_AUTH)
    (workdir / "config.yaml").write_text(CONFIG)
    port = _free_port()
    env = {
        **os.environ,
        "LLMFORM_TEST_GOOD_KEYS": f"{GOOD},{GOOD_BACKUP}",
        # recent LiteLLM refuses to start without a strong master key; nobody uses this one
        "LITELLM_MASTER_KEY": "sk-master-" + secrets.token_hex(24),
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",  # offline: no fetch of the price list
        "NO_PROXY": "127.0.0.1,localhost",
    }
    log = workdir / "litellm.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                str(_executable()),
                *("--config", "config.yaml", "--host", "127.0.0.1"),
                *("--port", str(port), "--num_workers", "1"),
            ],
            cwd=workdir,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so stopping it takes its workers
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(process, url, log)
        yield LiteLLM(url)
    finally:
        stop_group(process)


def _wait_until_up(process: subprocess.Popen[bytes], url: str, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log.read_text(errors="replace")[-3000:]
            pytest.fail(f"LiteLLM exited with {process.returncode}:\n{tail}", pytrace=False)
        try:
            if httpx.get(url + "/health/liveliness", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    tail = log.read_text(errors="replace")[-3000:]
    pytest.fail(f"LiteLLM did not answer within {STARTUP_SECONDS} s:\n{tail}", pytrace=False)


def test_good_key_passes_and_models_are_found(litellm: LiteLLM) -> None:
    report = run_checks(
        [target("openai-compatible", litellm.api_base, [GOOD], ["gpt-mock", "embed-mock"])]
    )
    (key,) = report.configs[0].keys
    assert (key.outcome, key.attempts) == (Outcome.VALID, 1), key.detail
    assert report.passed


def test_configured_model_the_proxy_does_not_serve(litellm: LiteLLM) -> None:
    report = run_checks(
        [target("openai-compatible", litellm.api_base, [GOOD], ["gpt-mock", "gpt-absent"])]
    )
    result = report.configs[0]
    assert result.outcome is Outcome.MODEL_MISSING
    assert result.missing_models == ("gpt-absent",)


def test_bad_key_fails(litellm: LiteLLM) -> None:
    report = run_checks([target("openai-compatible", litellm.api_base, [BAD])])
    (key,) = report.configs[0].keys
    assert (key.outcome, key.attempts) == (Outcome.INVALID_KEY, 1)
    assert "Authentication Error" in key.detail
    assert BAD not in str(report.to_dict()) and not report.passed


def test_rotation_reaches_a_good_backup(litellm: LiteLLM) -> None:
    report = run_checks(
        [target("openai-compatible", litellm.api_base, [BAD, GOOD_BACKUP], ["gpt-mock"])]
    )
    result = report.configs[0]
    rotation = [(a.position, a.outcome, a.waited) for a in result.attempts]
    # the bad primary fails on the key itself, so the backup is tried at once, and works
    assert rotation == [(0, Outcome.INVALID_KEY, 0.0), (1, Outcome.VALID, 0.0)]
    assert [k.outcome for k in result.keys] == [Outcome.INVALID_KEY, Outcome.VALID]
