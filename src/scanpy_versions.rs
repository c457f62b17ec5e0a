//! Where a Scanpy series' arithmetic differs from `Flavor::Scanpy` (Scanpy 1.12.4, which 1.11.x
//! and 1.13.0a2 share bit for bit). The version table is `docs/scanpy-versions.md`.

use crate::transform::ValuesClip;

/// The clip (and quotient) rule of a same-pattern (`zero_center=False`) sparse output.
///
/// Scanpy >= 1.11 sends CSR through its masked kernel (`min(max_value, q)`, NaN becomes
/// max_value) and CSC through `clip_array` (NaN kept). Scanpy 1.10 sends unmasked CSR through
/// `clip_array` too, and masked CSR through `_scale_sparse_numba`, which divides by the std cast
/// to the matrix dtype.
pub(crate) fn values_clip(scanpy_1_10: bool, csr: bool, masked: bool) -> ValuesClip {
    match (scanpy_1_10, csr, masked) {
        (_, false, _) => ValuesClip::Upper,
        (false, true, _) => ValuesClip::MinNanToMax,
        (true, true, false) => ValuesClip::Upper,
        (true, true, true) => ValuesClip::ValueTypeMinNanToMax,
    }
}

pub(crate) fn unknown_flavor(f: u32) -> String {
    format!(
        "flavor is {f}; expected SC_FLAVOR_SCANPY (0), SC_FLAVOR_SEURAT (1), SC_FLAVOR_SCANPY_1_10 (2) or SC_FLAVOR_SEURAT_MATRIXSTATS_1 (3)"
    )
}
