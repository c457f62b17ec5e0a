//! scscale: per-gene scaling of single-cell matrices, bit-identical to Scanpy's `pp.scale` and
//! Seurat's `ScaleData`, behind a C ABI (`include/scscale.h`).
//!
//! Layout, each layer using only those before it: [`matrix`] (validated views), [`options`],
//! [`moments`] (each tool's moments from its sums), [`traversal`] (walking rows by gene block),
//! [`partials`] (running sums, chunked), [`stats`] (per-gene statistics of each flavor),
//! [`transform`] (writing the result), [`exec`] (threads, progress), [`ffi`] (the C ABI).

#![deny(unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks)]

pub mod exec;
pub mod ffi;
pub mod hugepages;
pub mod matrix;
pub mod moments;
pub mod options;
pub mod partials;
pub mod regress;
mod scanpy_versions;
pub mod seurat_dense;
pub mod stats;
pub mod status;
pub mod transform;
pub mod traversal;

pub use ffi::*;
pub use status::{sc_status, sc_status::*, Error};
