"""Which Scanpy's rules apply, imports without (a usable) Scanpy, activate() outside the supported
range, Ctrl-C and cancellation. Subprocesses stand in for other installations: Scanpy made
unimportable, or its reported version changed, before scscale is imported."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from importlib.metadata import version

import numpy as np
import pytest
import scanpy as sc
from scipy import sparse

import scscale
from scscale import _ffi, _scale

SERIES = ".".join(version("scanpy").split(".")[:2])


def run_python(code: str, *, prelude: str = "") -> dict:
    """Runs ``prelude`` then ``code`` in a fresh interpreter; ``code`` prints one JSON line last."""
    src = textwrap.dedent(prelude) + "\n" + textwrap.dedent(code)
    proc = subprocess.run([sys.executable, "-c", src], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONWARNINGS": "default"})
    assert proc.returncode == 0, proc.stderr[-4000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


NO_SCANPY = """
import sys
sys.modules["scanpy"] = None  # `import scanpy` raises ImportError from here on
"""


def fake_scanpy_version(v: str) -> str:
    return f"""
import importlib.metadata as md
_real = md.version
md.version = lambda name: {v!r} if name == "scanpy" else _real(name)
"""


def test_installed_series_is_detected_and_reported(caplog):
    assert scscale.scanpy_rules() == (SERIES, version("scanpy"))
    assert scscale.pp.scale.scanpy_rules == SERIES
    assert scscale.pp.scanpy_rules == SERIES
    x = np.arange(12, dtype=np.float64).reshape(4, 3)
    with caplog.at_level("DEBUG", logger="scscale"):
        scscale.pp.scale(x)
    assert f"applying the rules of Scanpy {SERIES}" in caplog.text


def test_flavor_follows_the_series():
    assert _scale.FLAVOR == (_ffi.FLAVOR_SCANPY_1_10 if SERIES == "1.10" else _ffi.FLAVOR_SCANPY)


def test_without_scanpy_imports_work_and_arrays_scale():
    """No ImportError without Scanpy; arrays get the newest rules' bits (dense: same in every series)."""
    out = run_python(
        """
        import json, warnings, numpy as np
        import scscale, scscale.pp
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            first = scscale.activate()
            second = scscale.activate()
        x = np.random.default_rng(0).random((30, 5)).astype(np.float32)
        y = scscale.pp.scale(x.copy(), max_value=1.5)
        try:
            scscale.pp.scale(np.asfortranarray(x))  # needs Scanpy's own function
            err = None
        except scscale.UnsupportedError as e:
            err = str(e)
        print(json.dumps(dict(first=first, second=second, warnings=[str(m.message) for m in w],
                              rules=scscale.pp.scale.scanpy_rules, y=y.tobytes().hex(), err=err)))
        """,
        prelude=NO_SCANPY,
    )
    assert out["first"] is False and out["second"] is False
    assert len(out["warnings"]) == 1 and "Scanpy's own sc.pp.scale stays in place" in out["warnings"][0]
    x = np.random.default_rng(0).random((30, 5)).astype(np.float32)
    want = _scale._scanpy_scale(x.copy(), max_value=1.5)
    assert bytes.fromhex(out["y"]) == want.tobytes()
    assert "Scanpy is not installed" in out["err"]


@pytest.mark.parametrize(("fake", "rules"), [("1.9.6", "1.10"), ("1.14.0", "1.13"), ("2.0.0", "1.13")])
def test_unsupported_scanpy_warns_once_and_is_left_alone(fake, rules):
    out = run_python(
        """
        import json, warnings
        import scanpy as sc, scscale, scscale.pp
        original = sc.pp.scale
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            active = [scscale.activate(), scscale.activate()]
        print(json.dumps(dict(active=active, untouched=sc.pp.scale is original, is_active=scscale.is_active(),
                              warnings=[str(m.message) for m in w if "scscale" in str(m.message)],
                              rules=scscale.pp.scale.scanpy_rules)))
        """,
        prelude=fake_scanpy_version(fake),
    )
    assert out["active"] == [False, False] and out["untouched"] and not out["is_active"]
    assert len(out["warnings"]) == 1 and f"Scanpy {fake} is installed" in out["warnings"][0]
    assert out["rules"] == rules


def test_supported_scanpy_activates_without_warning():
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert scscale.activate() is True
    try:
        assert sc.pp.scale is scscale.pp.scale
    finally:
        scscale.deactivate()


@pytest.mark.skipif(SERIES != "1.13", reason="1.13's preset default")
def test_1_13_preset_makes_zero_center_required(monkeypatch):
    # The v2 preview preset refuses to be set without its optional dependencies (igraph, ...),
    # which play no part in scale.
    from scanpy._settings import presets

    monkeypatch.setattr(presets, "_missing_scanpy2_deps", lambda: [])
    x = np.arange(12, dtype=np.float64).reshape(4, 3)
    with sc.settings.preset.override(sc.Preset.ScanpyV2Preview):
        with pytest.raises(TypeError, match="missing 1 required keyword argument: 'zero_center'"):
            scscale.pp.scale(x.copy())
        with pytest.raises(TypeError, match="missing 1 required keyword argument: 'zero_center'"):
            _scale._scanpy_scale(x.copy())
        ours = scscale.pp.scale(x.copy(), zero_center=False)
        assert ours.tobytes() == _scale._scanpy_scale(x.copy(), zero_center=False).tobytes()
    assert scscale.pp.scale(x.copy()).tobytes() == _scale._scanpy_scale(x.copy()).tobytes()


@pytest.mark.skipif(SERIES not in ("1.10", "1.11"), reason="sparse arrays are native from 1.12")
def test_sparse_arrays_go_to_scanpy_before_1_12():
    x = sparse.csr_array(sparse.random(20, 4, density=0.5, format="csr", random_state=0))
    n = _scale.calls["fallback"]
    try:
        scscale.pp.scale(x, zero_center=False)
    except Exception as e:  # noqa: BLE001 - whatever Scanpy does, it is Scanpy's own
        try:
            _scale._scanpy_scale(x.copy(), zero_center=False)
        except Exception as e2:  # noqa: BLE001
            assert type(e) is type(e2)
    assert _scale.calls["fallback"] == n + 1
