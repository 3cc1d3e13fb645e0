"""The check every error answer of the API must pass, shared by the in-process route tests and the
integration tests against a running stack."""

from __future__ import annotations

import httpx


def check_error(answer: httpx.Response, status: int, code: str) -> str:
    """Assert `answer` is ``{"error": {"code": code, "message": ...}}`` with `status`; return the message."""
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}, body
    assert body["error"]["code"] == code, body
    message: str = body["error"]["message"]
    assert message
    return message
