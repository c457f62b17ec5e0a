//! Status codes and the thread-local "last error" message.

use std::cell::RefCell;
use std::fmt;

/// Result of every fallible `sc_*` call. Values are part of the ABI: they are never reused or
/// renumbered; new codes are only appended. This enum is the one list of codes: the names
/// (`sc_status_name`), the lookup by number and the header's enum are all generated from it.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, strum::EnumIter, strum::IntoStaticStr, strum::FromRepr)]
#[allow(non_camel_case_types)]
pub enum sc_status {
    /// Success: every output was written.
    SC_STATUS_OK = 0,
    /// A required pointer was NULL (NULL is allowed only for a buffer whose length is 0).
    SC_STATUS_NULL_POINTER = 1,
    /// An enum argument (flavor, index type, value type, index base) has an unknown value.
    SC_STATUS_INVALID_ENUM = 2,
    /// A size, or a product of sizes, does not fit in the platform's address space.
    SC_STATUS_SIZE_OVERFLOW = 3,
    /// `indptr_len` is not (number of compressed rows or columns) + 1.
    SC_STATUS_INDPTR_LENGTH = 4,
    /// `indptr[0]` is not the index base.
    SC_STATUS_INDPTR_START = 5,
    /// `indptr` decreases somewhere.
    SC_STATUS_INDPTR_NOT_MONOTONE = 6,
    /// The last `indptr` entry does not equal the number of stored entries.
    SC_STATUS_INDPTR_END = 7,
    /// `indices_len` differs from `data_len`.
    SC_STATUS_LENGTH_MISMATCH = 8,
    /// A stored index is negative or not below the matrix dimension (after the index base).
    SC_STATUS_INDEX_OUT_OF_RANGE = 9,
    /// The same (row, column) is stored twice where the flavor or layout cannot honour it.
    SC_STATUS_DUPLICATE_ENTRY = 10,
    /// An output buffer is shorter than the call needs.
    SC_STATUS_OUTPUT_TOO_SMALL = 11,
    /// A row stride (leading dimension) is smaller than the row width.
    SC_STATUS_INVALID_STRIDE = 12,
    /// An option is NaN, negative or otherwise meaningless (e.g. `n_partitions == 0`).
    SC_STATUS_INVALID_OPTION = 13,
    /// `groups_len` is not the number of rows.
    SC_STATUS_GROUPS_LENGTH = 14,
    /// A group label is below -1 or not below `n_groups`.
    SC_STATUS_INVALID_GROUP = 15,
    /// `column_map_len` is not the number of genes.
    SC_STATUS_COLUMN_MAP_LENGTH = 16,
    /// The column map is not a one-to-one map of the kept genes onto the output columns.
    SC_STATUS_INVALID_COLUMN_MAP = 17,
    /// A statistics buffer (given or requested) has the wrong length.
    SC_STATUS_STATS_LENGTH = 18,
    /// The combination of flavor, layout and options is not supported.
    SC_STATUS_UNSUPPORTED = 19,
    /// The progress callback asked to stop; the contents of the outputs are unspecified.
    SC_STATUS_CANCELLED = 20,
    /// The worker thread pool could not be created.
    SC_STATUS_THREAD_POOL = 21,
    /// A pointer is not aligned for its element type.
    SC_STATUS_MISALIGNED = 22,
    /// An output buffer overlaps an input in a way other than exact in-place use.
    SC_STATUS_OVERLAP = 23,
    /// A statistics accumulator does not match the options, or is in the wrong pass.
    SC_STATUS_INVALID_ACCUMULATOR = 24,
    /// An internal error (a Rust panic) was caught at the boundary. Please report it.
    SC_STATUS_PANIC = 99,
}

pub use sc_status::*;

impl sc_status {
    /// Stable identifier, e.g. `"SC_STATUS_INDPTR_END"`.
    pub fn name(self) -> &'static str {
        self.into()
    }

    /// The status with this number, if any.
    pub fn from_code(code: i32) -> Option<Self> {
        usize::try_from(code).ok().and_then(Self::from_repr)
    }

    /// Every status, in the order of their numbers.
    pub fn all() -> impl Iterator<Item = Self> {
        <Self as strum::IntoEnumIterator>::iter()
    }

    /// What kind of failure this is, so bindings can choose their error class from the library.
    pub fn kind(self) -> sc_error_kind {
        match self {
            SC_STATUS_OK => sc_error_kind::SC_KIND_OK,
            SC_STATUS_UNSUPPORTED => sc_error_kind::SC_KIND_UNSUPPORTED,
            SC_STATUS_CANCELLED => sc_error_kind::SC_KIND_CANCELLED,
            SC_STATUS_THREAD_POOL | SC_STATUS_PANIC => sc_error_kind::SC_KIND_INTERNAL,
            _ => sc_error_kind::SC_KIND_INVALID_INPUT,
        }
    }
}

/// The class of a status (`sc_status_kind()`): what a binding maps to its own error types.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(non_camel_case_types)]
pub enum sc_error_kind {
    /// `SC_STATUS_OK`.
    SC_KIND_OK = 0,
    /// The caller's arguments are wrong (Python: ValueError; R: an error condition).
    SC_KIND_INVALID_INPUT = 1,
    /// A valid combination the library does not implement (Python: NotImplementedError).
    SC_KIND_UNSUPPORTED = 2,
    /// The progress callback stopped the call.
    SC_KIND_CANCELLED = 3,
    /// A failure inside the library or the machine, not the caller's fault (please report).
    SC_KIND_INTERNAL = 4,
}

/// A failure: its status code and a message naming the argument, the index and what was expected.
#[derive(Clone, Debug, PartialEq)]
pub struct Error {
    pub status: sc_status,
    pub message: String,
}

impl Error {
    pub fn new(status: sc_status, message: impl Into<String>) -> Self {
        Error { status, message: message.into() }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.status.name(), self.message)
    }
}

impl std::error::Error for Error {}

pub type Result<T> = std::result::Result<T, Error>;

/// Shorthand for `Err(Error::new(..))` with `format!` arguments.
macro_rules! fail {
    ($status:expr, $($arg:tt)*) => {
        return Err($crate::status::Error::new($status, format!($($arg)*)))
    };
}
pub(crate) use fail;

/// The message of a caught panic (`&str` or `String` payloads; anything else is "unknown panic").
pub fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}

thread_local! {
    static LAST_ERROR: RefCell<String> = const { RefCell::new(String::new()) };
}

pub(crate) fn set_last_error(message: &str) {
    LAST_ERROR.with(|m| {
        let mut m = m.borrow_mut();
        m.clear();
        m.push_str(message);
    });
}

pub(crate) fn with_last_error<R>(f: impl FnOnce(&str) -> R) -> R {
    LAST_ERROR.with(|m| f(&m.borrow()))
}
