"""DeepSeek: OpenAI protocol; 402 "Insufficient Balance" is its out-of-credit answer, and its
401 body says "Authentication Fails" with ``code: invalid_request_error`` (so status decides)."""

from __future__ import annotations

from .openai_style import OpenAIStyle

ADAPTER = OpenAIStyle("deepseek", default_base="https://api.deepseek.com")
