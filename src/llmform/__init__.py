"""llmform: LLM provider configuration as code.

The public API: ``validate_paths`` (offline checks) and ``load_state`` (the checked desired
state, or an InputError listing every problem).
"""

from __future__ import annotations

from .desired.model import Config, DesiredState, EnvRef, Factory, Model, VaultRef, Workspace
from .desired.validate import Validation, load_state, validate_paths
from .errors import Diagnostic, InputError, LlmformError, Location, Severity
from .version import __version__

__all__ = [
    "Config",
    "DesiredState",
    "Diagnostic",
    "EnvRef",
    "Factory",
    "InputError",
    "LlmformError",
    "Location",
    "Model",
    "Severity",
    "Validation",
    "VaultRef",
    "Workspace",
    "__version__",
    "load_state",
    "validate_paths",
]
