"""Ctrl-C (KeyboardInterrupt) and cancellation through the core's progress callback, and the
exception class of each failure status."""

from __future__ import annotations

import numpy as np
import pytest

import scscale
from scscale import _ffi, _scale


@pytest.fixture(autouse=True)
def _python_default_sigint_handler():
    """Ctrl-C support needs Python's own SIGINT handler, which Python does not install when it
    starts with SIGINT ignored (a background job of a non-interactive shell, e.g. under nohup)."""
    import signal

    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def test_no_callback_without_pythons_handler(monkeypatch):
    """With SIGINT ignored (or a handler of the application's own) scscale leaves it alone."""
    import signal

    calls = []
    monkeypatch.setattr(_ffi, "_test_progress_hook", lambda done, total: calls.append(done) or True)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    x = _big_dense()
    assert scscale.pp.scale(x.copy()).tobytes() == _scale._scanpy_scale(x.copy()).tobytes()
    assert calls == [] and signal.getsignal(signal.SIGINT) is signal.SIG_IGN


def _big_dense():
    return np.random.default_rng(1).random((4000, 200))


def test_ctrl_c_raises_keyboard_interrupt(monkeypatch):
    """A real SIGINT during the call (sent from the progress report) stops it."""
    import signal

    seen = []

    def hook(done, total):
        seen.append(done)
        if len(seen) == 2:
            signal.raise_signal(signal.SIGINT)
        return False

    monkeypatch.setattr(_ffi, "_test_progress_hook", hook)
    with pytest.raises(KeyboardInterrupt):
        scscale.pp.scale(_big_dense())
    total = _big_dense().shape[0]
    assert seen[-1] < total, "the call stopped before the last rows"
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    monkeypatch.setattr(_ffi, "_test_progress_hook", None)
    x = _big_dense()
    assert scscale.pp.scale(x.copy()).tobytes() == _scale._scanpy_scale(x.copy()).tobytes()


def test_cancelled_call_raises_cancelled_error(monkeypatch):
    monkeypatch.setattr(_ffi, "_test_progress_hook", lambda done, total: done > 0)
    with pytest.raises(scscale.CancelledError) as e:
        scscale.pp.scale(_big_dense())
    assert e.value.status == _ffi.STATUS_CANCELLED and "cancelled" in e.value.message
    assert not isinstance(e.value, (ValueError, NotImplementedError))


def test_error_classes():
    assert issubclass(scscale.CancelledError, scscale.ScscaleError)
    assert issubclass(scscale.InternalError, scscale.ScscaleError)
    assert _ffi._error_class(99) is scscale.InternalError
    assert _ffi._error_class(21) is scscale.InternalError
    assert _ffi._error_class(20) is scscale.CancelledError
    assert _ffi._error_class(19) is scscale.UnsupportedError
    assert _ffi._error_class(9) is scscale.InvalidInputError
