"""Alibaba Cloud Model Studio (DashScope) in OpenAI-compatible mode.

Keys are bound to a region (an international key gets 401 on the Beijing host). Its codes:
401 ``InvalidApiKey``; 403 ``AccessDenied``/``AccessDenied.Unpurchased``; 400 ``Arrearage``
(account overdue); 429 is a rate limit unless it says quota ("Free allocated quota exceeded").
"""

from __future__ import annotations

from .base import ErrorInfo, Outcome, Reply, describe
from .openai_style import OpenAIStyle, openai_rules


def bailian_rules(status: int, info: ErrorInfo) -> Reply | None:
    code = info.code.lower()
    detail = describe(status, info)
    if code == "arrearage":
        return Reply(Outcome.OUT_OF_QUOTA, detail, status)
    if code.startswith("accessdenied"):
        return Reply(Outcome.NO_PERMISSION, detail, status)
    if code == "invalidapikey":
        return Reply(Outcome.INVALID_KEY, detail, status)
    return None


ADAPTER = OpenAIStyle(
    "bailian",
    default_base="https://dashscope.aliyuncs.com/compatible-mode/v1",
    rules=(bailian_rules, openai_rules),
)
