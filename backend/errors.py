"""Domain errors of the studio: one exception type, one code per client-visible failure.

The HTTP layer maps every `StudioError` to ``{"error": {"code", "message"}}`` with `status`
in one place; nothing below this layer knows about HTTP responses. Messages are written for
the person who sent the request: they name the offending value and what would have been
accepted.
"""

from __future__ import annotations

from typing import Any, ClassVar


class StudioError(Exception):
    """A client-visible failure with a stable machine-readable `code` and an HTTP `status`."""

    def __init__(self, code: str, message: str, status: int) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status

    def to_dict(self) -> dict[str, Any]:
        """The JSON error body: ``{"error": {"code": ..., "message": ...}}``."""
        return {"error": {"code": self.code, "message": self.message}}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, message={self.message!r})"


class _CodedError(StudioError):
    """Base of the fixed-code errors below: the subclass pins `code` and `status`."""

    code_: ClassVar[str]
    status_: ClassVar[int]

    def __init__(self, message: str) -> None:
        super().__init__(self.code_, message, self.status_)


class UnsupportedImageError(_CodedError):
    """The upload is not a decodable JPEG, PNG or WebP image."""

    code_ = "unsupported_image"
    status_ = 415


class TooLargeError(_CodedError):
    """The upload exceeds the byte or pixel limit."""

    code_ = "too_large"
    status_ = 413


class NoFaceError(_CodedError):
    """No face was found in the photo."""

    code_ = "no_face"
    status_ = 422


class UnknownAttributeError(_CodedError):
    """An edit names an attribute the model has no direction for."""

    code_ = "unknown_attribute"
    status_ = 422


class UnknownLatentError(_CodedError):
    """The latent id is unknown or has expired."""

    code_ = "unknown_latent"
    status_ = 404


class UnknownJobError(_CodedError):
    """The job id is unknown or has expired."""

    code_ = "unknown_job"
    status_ = 404


class InvalidRequestError(_CodedError):
    """A request parameter is out of range or malformed."""

    code_ = "invalid_request"
    status_ = 422


class QueueUnavailableError(_CodedError):
    """The broker or every worker is unreachable; the client should retry later."""

    code_ = "queue_unavailable"
    status_ = 503

    def __init__(self, message: str, retry_after_s: int = 5) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


#: code → class, for the HTTP layer and for clients that rebuild errors from JSON.
ERRORS: dict[str, type[_CodedError]] = {
    cls.code_: cls
    for cls in (
        UnsupportedImageError,
        TooLargeError,
        NoFaceError,
        UnknownAttributeError,
        UnknownLatentError,
        UnknownJobError,
        InvalidRequestError,
        QueueUnavailableError,
    )
}
