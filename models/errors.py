"""The error vocabulary of the whole project: one exception type, one code per failure a user can see.

Every layer below the web tier (the models, the worker, the photo preparation) raises these with
a stable machine-readable `code` and a `message` written for the person who sent the request: it
names the offending value and what would have been accepted. Nothing here knows about HTTP: the
web tier maps each code to a status in one table (`backend.http.STATUS`), and the page has a
sentence for each (`frontend/js/messages.js`); a test keeps the three lists equal.

Torch-free and dependency-free, so that every tier can import it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

#: Every code raised below the web tier, with what it means.
CODES: dict[str, str] = {
    "unsupported_image": "the upload is not a decodable JPEG, PNG or WebP image",
    "too_large": "the upload exceeds the byte or pixel limit",
    "no_face": "no face was found in the photo",
    "unknown_attribute": "an edit names an attribute the model has no direction for",
    "unknown_latent": "the latent id is unknown, expired, not encoded yet or of another model",
    "unknown_job": "the job id is unknown or has expired",
    "unknown_image": "the image id is unknown or has expired",
    "unknown_direction": "a taught direction is unknown, expired, or a face it was taught from was deleted",
    "invalid_request": "a request parameter is out of range or malformed",
    "queue_unavailable": "the broker or every worker is unreachable; retry later",
    "sampling_unavailable": "the model has no latent DPM, so it cannot draw random faces",
    "alignment_unavailable": "the face landmark backend is not installed or failed to load",
    "model_unavailable": "no worker has published its model and MODEL_DIR is not readable",
    "timeout": "a job ran past its time limit",
    "job_failed": "the worker failed on a job for a reason of its own",
    "worker_lost": "the workers running a job died on it again and again, so it was given up",
    "cancelled": "the job was cancelled (DELETE /jobs/{id}), e.g. a newer edit replaced it",
    "store_reset": "the id was lost when the store (Redis) restarted without persistence",
}


class StudioError(Exception):
    """A failure with a stable `code` (a key of `CODES`) and a `message` for people."""

    def __init__(self, code: str, message: str) -> None:
        if code not in CODES:
            raise ValueError(f"unknown error code {code!r}; add it to models.errors.CODES")
        super().__init__(message)
        self.code = code
        self.message = message

    def to_dict(self) -> dict[str, Any]:
        """The JSON error body: ``{"error": {"code": ..., "message": ...}}``."""
        return {"error": {"code": self.code, "message": self.message}}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, message={self.message!r})"


class _CodedError(StudioError):
    """Base of the fixed-code errors below: the subclass pins `code`."""

    code_: ClassVar[str]

    def __init__(self, message: str) -> None:
        super().__init__(self.code_, message)


class UnsupportedImageError(_CodedError):
    code_ = "unsupported_image"


class TooLargeError(_CodedError):
    code_ = "too_large"


class NoFaceError(_CodedError):
    code_ = "no_face"


class UnknownAttributeError(_CodedError):
    code_ = "unknown_attribute"


class UnknownLatentError(_CodedError):
    code_ = "unknown_latent"


class UnknownJobError(_CodedError):
    code_ = "unknown_job"


class UnknownDirectionError(_CodedError):
    code_ = "unknown_direction"


class StoreResetError(_CodedError):
    """What an id named was lost with the store: Redis restarted without persistence after it
    was made (`worker.storage.StoreEpoch`)."""

    code_ = "store_reset"


class UnknownImageError(_CodedError):
    """The image id is unknown or has expired."""

    code_ = "unknown_image"

    def __init__(self, image_id: str) -> None:
        super().__init__(f"no image {image_id!r}: it never existed, expired or was deleted")


class InvalidRequestError(_CodedError):
    code_ = "invalid_request"


class InvalidStepsError(InvalidRequestError, ValueError):
    """A DDIM step count the schedule cannot respace to (`models.schedule.check_steps`). Also a
    ValueError, which is what the step check raised before it had a code."""


class SamplingUnavailableError(_CodedError):
    code_ = "sampling_unavailable"


class AlignmentUnavailableError(_CodedError):
    code_ = "alignment_unavailable"


class ModelUnavailableError(_CodedError):
    code_ = "model_unavailable"


class QueueUnavailableError(_CodedError):
    """The broker or every worker is unreachable; `retry_after_s` says when to try again."""

    code_ = "queue_unavailable"

    def __init__(self, message: str, retry_after_s: int = 5) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


#: What an error message repeats of a client's input: this many items, each cut to this length.
ECHO_ITEMS, ECHO_CHARS = 5, 40


def echo(items: Iterable[object]) -> str:
    """Items of a client's input for an error message, bounded whatever was sent: at most
    ECHO_ITEMS of them, each cut to ECHO_CHARS characters, then the count of the rest."""
    shown: list[str] = []
    rest = 0
    for item in items:
        if len(shown) < ECHO_ITEMS:
            text = str(item)
            shown.append(text if len(text) <= ECHO_CHARS else text[:ECHO_CHARS] + "…")
        else:
            rest += 1
    return ", ".join(shown) + (f" (and {rest} more)" if rest else "")
