"""pytest plugin: runs Scanpy's own tests with ``scscale.activate()`` in force.

Loaded with ``-p scscale_activate`` from the Scanpy sdist directory (its pytest config applies,
including ``filterwarnings = error``, so any extra warning from scscale fails a test).
"""

from __future__ import annotations

import pytest

# Tests that download data; skipped by name so the skip shows up in the summary.
NETWORK_TESTS = {
    ("test_scaling.py", "test_clip"): "downloads pbmc3k (sc.datasets.pbmc3k)",
}


# The environment's pandas (>= 3) warns inside anndata's h5ad reader when the bundled
# pbmc68k_reduced is read and when an AnnData view is made; Scanpy's `filterwarnings = error` turns that into an error that has
# nothing to do with scaling (it fails identically without scscale).
ENVIRONMENT_WARNINGS = [
    "ignore:The 'future.infer_string' option is deprecated:pandas.errors.Pandas4Warning",
    "ignore:The 'mode.chained_assignment' option is deprecated:pandas.errors.Pandas4Warning",
]


def pytest_configure(config: pytest.Config) -> None:
    import scscale

    import pandas.errors

    # pandas < 3 has no Pandas4Warning (and pytest rejects a filter naming an unknown class).
    if hasattr(pandas.errors, "Pandas4Warning"):
        for line in ENVIRONMENT_WARNINGS:
            config.addinivalue_line("filterwarnings", line)

    scscale.activate()


def _anndata_lacks_sparse_dask_helper() -> bool:
    """Scanpy 1.10's test helpers build sparse Dask arrays with
    ``anndata.tests.helpers.as_sparse_dask_array``, which anndata 0.12 no longer has: those
    cases fail with an ImportError in the helper, with or without scscale."""
    import importlib.util
    from pathlib import Path

    spec = importlib.util.find_spec("testing.scanpy._helpers")
    if spec is None or spec.origin is None:
        return False
    if "from anndata.tests.helpers import as_sparse_dask_array" not in Path(spec.origin).read_text():
        return False
    try:
        from anndata.tests import helpers
    except ImportError:
        return True
    return not hasattr(helpers, "as_sparse_dask_array")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    no_sparse_dask = _anndata_lacks_sparse_dask_helper()
    for item in items:
        key = (item.path.name, item.originalname if hasattr(item, "originalname") else item.name)
        if key in NETWORK_TESTS:
            item.add_marker(pytest.mark.skip(reason=f"needs the network: {NETWORK_TESTS[key]}"))
        elif no_sparse_dask and "dask_array_sparse" in item.name:
            item.add_marker(pytest.mark.skip(
                reason="this anndata has no tests.helpers.as_sparse_dask_array, which this Scanpy's "
                       "test helper imports (fails without scscale too)"))


@pytest.fixture(autouse=True)
def _scscale_is_active():
    import scanpy as sc

    import scscale

    assert sc.pp.scale is scscale.pp.scale
    assert sc.preprocessing.scale is scscale.pp.scale
    yield


def pytest_terminal_summary(terminalreporter) -> None:
    from scscale import _scale

    terminalreporter.write_line(
        f"scscale: {_scale.calls['native']} native calls, {_scale.calls['fallback']} fallbacks to Scanpy"
    )
