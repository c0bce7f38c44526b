"""YAML that llmform writes for people to read and commit (``export``, ``catalog
import-ragflow``): PyYAML's safe dump, with nothing in it that a terminal or an editor acts on.

The strings come from the store or from a vendor's file: a description, a label key, a model
name may hold a newline, ESC, a C1 control or a bidirectional override. PyYAML with
``allow_unicode`` writes the last two raw (it escapes only what YAML forbids), so a label could
recolour the terminal that prints the export or show reviewers text in another order than the
file holds. Here a string that is not all printable is written double-quoted, where every
character outside printable ASCII is an escape (``\\x1B``, ``\\u202E``, ``\\n``); printable text,
non-ASCII letters included, is written as it is.
"""

from __future__ import annotations

from typing import Any

import yaml


class SafeTextDumper(yaml.SafeDumper):
    """A SafeDumper whose strings with anything unprintable are double-quoted and escaped."""

    def write_double_quoted(self, text: str, split: bool = True) -> None:
        # allow_unicode would keep C1 controls (U+0080-U+009F are escaped, but not U+00A0-)
        # bidi overrides and zero-width characters raw: within a string that has any of them,
        # every non-ASCII character is an escape.
        keep, self.allow_unicode = self.allow_unicode, False
        try:
            super().write_double_quoted(text, split)
        finally:
            self.allow_unicode = keep


def _represent_str(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
    style = None if data.isprintable() else '"'
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


SafeTextDumper.add_representer(str, _represent_str)


def dump(value: Any, **options: Any) -> str:
    """``value`` as YAML text (``yaml.dump`` options: ``default_flow_style``, ``width``...),
    keys in the order given, non-ASCII letters kept readable."""
    text: str = yaml.dump(
        value, Dumper=SafeTextDumper, sort_keys=False, allow_unicode=True, **options
    )
    return text
