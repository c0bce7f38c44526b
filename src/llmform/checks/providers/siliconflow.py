"""SiliconFlow: OpenAI protocol with its own body ``{"code": 20012, "message", "data"}``.

A 403 there is either a permission (real-name verification, model access) or an empty balance;
only the message tells which.
"""

from __future__ import annotations

from .base import QUOTA_WORDS, ErrorInfo, Outcome, Reply, any_in, describe
from .openai_style import OpenAIStyle, openai_rules


def siliconflow_rules(status: int, info: ErrorInfo) -> Reply | None:
    if status == 403 and any_in(info.text, QUOTA_WORDS):
        return Reply(Outcome.OUT_OF_QUOTA, describe(status, info), status)
    return None


ADAPTER = OpenAIStyle(
    "siliconflow",
    default_base="https://api.siliconflow.cn/v1",
    rules=(siliconflow_rules, openai_rules),
)
