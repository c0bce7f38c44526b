"""Any OpenAI-compatible server (vLLM, LocalAI, LiteLLM, Volcano Ark, a private gateway).

A key is optional: a local server may run without one, and then the check proves only that the
endpoint answers and serves the configured models.
"""

from __future__ import annotations

from .openai_style import OpenAIStyle

ADAPTER = OpenAIStyle("openai-compatible")
