//! The Python package's native module. It holds no Python API of its own: linking the core
//! crate exports its `sc_*` C functions from this shared object, which `scscale._ffi` loads with
//! ctypes (ctypes releases the GIL during each call).
use pyo3::prelude::*;

// Keeps the core linked so its `#[no_mangle]` exports end up in this cdylib.
pub use scscale::ffi::*;

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
