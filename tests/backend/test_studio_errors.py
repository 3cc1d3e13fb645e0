"""The domain error type: codes and HTTP statuses of DESIGN §2.4, and the JSON body."""

from __future__ import annotations

import pytest

from backend.errors import (
    ERRORS,
    InvalidRequestError,
    NoFaceError,
    QueueUnavailableError,
    StudioError,
    TooLargeError,
    UnknownAttributeError,
    UnknownJobError,
    UnknownLatentError,
    UnsupportedImageError,
)


@pytest.mark.parametrize(
    ("cls", "code", "status"),
    [
        (UnsupportedImageError, "unsupported_image", 415),
        (TooLargeError, "too_large", 413),
        (NoFaceError, "no_face", 422),
        (UnknownAttributeError, "unknown_attribute", 422),
        (UnknownLatentError, "unknown_latent", 404),
        (UnknownJobError, "unknown_job", 404),
        (QueueUnavailableError, "queue_unavailable", 503),
        (InvalidRequestError, "invalid_request", 422),
    ],
)
def test_each_code_has_its_status_and_body(cls: type[StudioError], code: str, status: int) -> None:
    err = cls("the message")  # type: ignore[call-arg]
    assert isinstance(err, StudioError)
    assert (err.code, err.status, err.message, str(err)) == (code, status, "the message",
                                                            "the message")
    assert err.to_dict() == {"error": {"code": code, "message": "the message"}}
    assert ERRORS[code] is cls


def test_generic_error_keeps_what_it_was_given() -> None:
    err = StudioError("teapot", "short and stout", 418)
    assert (err.code, err.message, err.status) == ("teapot", "short and stout", 418)


def test_queue_unavailable_carries_retry_after() -> None:
    assert QueueUnavailableError("redis is down").retry_after_s == 5
    assert QueueUnavailableError("redis is down", retry_after_s=30).retry_after_s == 30


def test_all_codes_are_registered_once() -> None:
    assert sorted(ERRORS) == sorted(
        ["unsupported_image", "too_large", "no_face", "unknown_attribute", "unknown_latent",
         "unknown_job", "queue_unavailable", "invalid_request"]
    )
