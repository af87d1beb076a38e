from __future__ import annotations

import logging

import pytest

from reconwb.redaction import MASK, RedactionFilter, forget_secrets, install, redact, register_secret


@pytest.fixture(autouse=True)
def _clean():
    forget_secrets()
    yield
    forget_secrets()


@pytest.mark.parametrize(
    "text, secret",
    [
        ("login failed: password=hunter22 for alice", "hunter22"),
        ('{"password": "hunter22"}', "hunter22"),
        ("Authorization: Bearer abc.def-123", "abc.def-123"),
        ("Api-Key: k3y-value-9", "k3y-value-9"),
        ("secret is whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
        ("url?token=zzz999&x=1", "zzz999"),
    ],
)
def test_patterns_mask_secret_shaped_values(text: str, secret: str) -> None:
    out = redact(text)
    assert secret not in out
    assert MASK in out


def test_registered_values_are_masked_even_bare() -> None:
    register_secret("correct horse battery")
    assert redact("the bank said: 'correct horse battery' is wrong") == "the bank said: '***' is wrong"
    assert redact("nothing to hide") == "nothing to hide"


def test_log_records_and_tracebacks_are_redacted(caplog: pytest.LogCaptureFixture) -> None:
    install()
    register_secret("pa55word-xyz")
    logger = logging.getLogger("reconwb.test")
    logger.addFilter(RedactionFilter())
    with caplog.at_level(logging.INFO, logger="reconwb.test"):
        logger.info("trying %s", "pa55word-xyz")
        try:
            raise ValueError("bad credentials pa55word-xyz")
        except ValueError:
            logger.exception("failed")
    text = caplog.text
    assert "pa55word-xyz" not in text
    assert "trying ***" in text
    assert "bad credentials ***" in text
