"""The errors of a call to MLflow: each names the server (its URL without credentials), the call
and what MLflow answered (its error code and message, redacted, on one printable line)."""

from __future__ import annotations

from ...errors import StoreError


class MlflowError(StoreError):
    """A call to MLflow failed. ``url``: the server, never with credentials; ``call``: the
    method, path and workspace; ``status`` and ``code``: MLflow's answer, when there was one."""

    def __init__(self, url: str, call: str, detail: str, status: int = 0, code: str = "") -> None:
        self.url = url
        self.call = call
        self.status = status
        self.code = code
        super().__init__(f"MLflow at {url}: {call}: {detail}")


class MlflowUnreachableError(MlflowError):
    """No answer: the server is down, the port or scheme is wrong, or it took too long."""


class MlflowAnswerError(MlflowError):
    """MLflow answered, but not with what its API promises (not JSON, or a field of the wrong
    type): a proxy in the way, or an MLflow version this client does not know."""


class MlflowApiError(MlflowError):
    """MLflow refused the call with an HTTP error (``status``) and its error ``code``
    (``INVALID_PARAMETER_VALUE``, ``INVALID_STATE``, ...)."""


class MlflowNotFoundError(MlflowApiError):
    """The object, or the workspace the call names, does not exist (``RESOURCE_DOES_NOT_EXIST``)."""


class MlflowAlreadyExistsError(MlflowApiError):
    """An object of that name exists already (``RESOURCE_ALREADY_EXISTS``)."""


class MlflowAuthError(MlflowApiError):
    """The server refused the credentials (401) or the permission (403)."""
