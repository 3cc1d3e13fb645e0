"""One vocabulary of errors: every code has one HTTP status (`backend.http.STATUS`) and one
sentence on the page (frontend/js/messages.js), and the codes raised below the web tier carry
no HTTP at all."""

from __future__ import annotations

import re

import pytest

from backend.http import STATUS, WEB_CODES
from models import errors
from models.errors import CODES, QueueUnavailableError, StudioError
from tests.service.stack import REPO

MESSAGES = REPO / "frontend" / "js" / "messages.js"


def page_codes(name: str) -> set[str]:
    """The keys of the object literal `const {name} = {...};` in messages.js."""
    body = re.search(rf"const {name} = \{{(.*?)\n\}};", MESSAGES.read_text(), re.S)
    assert body, f"no {name} in {MESSAGES}"
    return set(re.findall(r"^\s+([a-z_]+):", body.group(1), re.M))


def test_every_code_has_one_status_and_one_sentence() -> None:
    server = set(CODES) | set(WEB_CODES)
    assert not set(CODES) & set(WEB_CODES)
    assert set(STATUS) == server
    assert page_codes("SERVER_TITLES") == server
    # made up by the page: the server is unreachable; a file to import is no exported slider
    assert page_codes("CLIENT_TITLES") == {"network", "not_a_slider"}
    assert not page_codes("CLIENT_TITLES") & server
    assert all(400 <= status < 600 for status in STATUS.values())


@pytest.mark.parametrize(
    ("cls", "code"),
    [(getattr(errors, name), code) for name, code in [
        ("UnsupportedImageError", "unsupported_image"), ("TooLargeError", "too_large"),
        ("NoFaceError", "no_face"), ("UnknownAttributeError", "unknown_attribute"),
        ("UnknownLatentError", "unknown_latent"), ("UnknownJobError", "unknown_job"),
        ("InvalidRequestError", "invalid_request"), ("SamplingUnavailableError", "sampling_unavailable"),
        ("AlignmentUnavailableError", "alignment_unavailable"),
        ("ModelUnavailableError", "model_unavailable"),
        ("QueueUnavailableError", "queue_unavailable"),
    ]],
)
def test_each_error_class_has_its_code_and_body_and_no_status(cls: type[StudioError], code: str) -> None:
    err = cls("the message")  # type: ignore[call-arg]
    assert (err.code, err.message, str(err)) == (code, "the message", "the message")
    assert err.to_dict() == {"error": {"code": code, "message": "the message"}}
    assert not hasattr(err, "status")


def test_an_unknown_code_is_refused_and_queue_unavailable_says_when_to_retry() -> None:
    with pytest.raises(ValueError, match="unknown error code"):
        StudioError("teapot", "short and stout")
    assert QueueUnavailableError("redis is down").retry_after_s == 5
    assert QueueUnavailableError("redis is down", retry_after_s=30).retry_after_s == 30
