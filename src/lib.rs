//! scscale: per-gene scaling of single-cell matrices, bit-identical to Scanpy's `pp.scale` and
//! Seurat's `ScaleData`, behind a safe Rust API ([`api`]) and a C ABI ([`ffi`], `include/scscale.h`).
//!
//! Layout, each layer using only those before it: `matrix` (validated views), `options`,
//! `moments` (each tool's moments from its sums), `traversal` (walking rows by gene block),
//! `partials` (running sums, chunked), `stats` (per-gene statistics of each flavor),
//! `transform` (writing the result), `exec` (threads, progress), `seurat_dense` (Seurat's dense
//! path, in C), `design` and `regress` (`vars.to.regress`), [`api`] (the rules of each call),
//! [`ffi`] (C structs in, status codes out). Only `api`, `ffi` and `status` are public.

#![deny(unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks)]

pub mod api;
mod design;
mod exec;
pub mod ffi;
mod hugepages;
mod matrix;
mod moments;
mod options;
mod partials;
mod regress;
mod scanpy_versions;
mod seurat_dense;
mod stats;
pub mod status;
mod transform;
mod traversal;

pub use ffi::*;

/// The library version (as `sc_version()` reports it).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
pub use status::{sc_error_kind, sc_status, sc_status::*, Error};

/// What `benches/scale.rs` needs to measure the floor of merely writing the output (not API).
#[doc(hidden)]
pub mod bench_support {
    pub use crate::exec::pool;
    pub use crate::hugepages::advise;
    pub use crate::transform::{store_fence, stream_row};
}
