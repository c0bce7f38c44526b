"""OpenAI: ``GET /v1/models`` with a Bearer key.

A restricted key answers 401 "insufficient permissions" (valid key, no scope) and a spent account
429 ``insufficient_quota``; the shared OpenAI rules read both from the body.
"""

from __future__ import annotations

from .openai_style import OpenAIStyle

ADAPTER = OpenAIStyle("openai", default_base="https://api.openai.com/v1")
