//! scscale: per-gene scaling of single-cell matrices, bit-identical to Scanpy's `pp.scale` and
//! Seurat's `ScaleData`, behind a C ABI (`include/scscale.h`).
//!
//! Layout: [`matrix`] (validated views), [`options`], [`stats`] (per-gene statistics of each
//! flavor), [`transform`] (writing the result), [`exec`] (threads, progress), [`ffi`] (the C ABI).

pub mod exec;
pub mod ffi;
pub mod hugepages;
pub mod matrix;
pub mod options;
pub mod partials;
mod scanpy_versions;
pub mod stats;
pub mod status;
pub mod transform;

pub use ffi::*;
pub use status::{sc_status, sc_status::*, Error};
