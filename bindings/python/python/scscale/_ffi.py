"""ctypes view of the core's C ABI (include/scscale.h), exported by the ``_native`` extension.

ctypes releases the GIL for the duration of every foreign call.
"""

from __future__ import annotations

import ctypes as C
import signal
import threading

import numpy as np

from . import _native

ABI_VERSION = 1
FLAVOR_SCANPY = 0
FLAVOR_SCANPY_1_10 = 2  # SC_FLAVOR_SCANPY_1_10
INDEX_INT32, INDEX_INT64 = 0, 1
VALUE_FLOAT32, VALUE_FLOAT64 = 0, 1


class ScscaleError(RuntimeError):
    """A failed native call: ``status`` is the numeric ``sc_status``, ``name`` its C name."""

    def __init__(self, status: int, name: str, message: str) -> None:
        super().__init__(f"{name} ({status}): {message}")
        self.status = status
        self.name = name
        self.message = message


class InvalidInputError(ScscaleError, ValueError):
    """The matrix or an option is malformed. The library validates before it writes, but an
    in-place call's input is its output: treat it as unspecified after any error."""


class UnsupportedError(ScscaleError, NotImplementedError):
    """The combination is not implemented natively (callers fall back to Scanpy)."""


class InternalError(ScscaleError):
    """A panic or resource failure inside the library (the outputs are unspecified)."""


class CancelledError(ScscaleError):
    """The progress callback stopped the call (the outputs, and an in-place input, are
    unspecified). Ctrl-C during a call raises KeyboardInterrupt instead."""


# The library classifies its own codes (sc_status_kind): SC_KIND_* -> exception class.
KIND_INVALID_INPUT, KIND_UNSUPPORTED, KIND_CANCELLED, KIND_INTERNAL = 1, 2, 3, 4
_CLASS_OF_KIND = {
    KIND_INVALID_INPUT: InvalidInputError,
    KIND_UNSUPPORTED: UnsupportedError,
    KIND_CANCELLED: CancelledError,
    KIND_INTERNAL: InternalError,
}


def _error_class(status: int) -> type[ScscaleError]:
    return _CLASS_OF_KIND.get(lib.sc_status_kind(status), InvalidInputError)


_progress_fn = C.CFUNCTYPE(C.c_int32, C.c_void_p, C.c_uint64, C.c_uint64)


class Options(C.Structure):
    _fields_ = [
        ("flavor", C.c_uint32),
        ("center", C.c_bool),
        ("scale", C.c_bool),
        ("clip", C.c_bool),
        ("max_value", C.c_double),
        ("n_partitions", C.c_uint32),
        ("n_threads", C.c_uint32),
        ("column_map", C.c_void_p),
        ("column_map_len", C.c_size_t),
        ("groups", C.c_void_p),
        ("groups_len", C.c_size_t),
        ("n_groups", C.c_uint32),
        ("given_mean", C.c_void_p),
        ("given_mean_len", C.c_size_t),
        ("given_std", C.c_void_p),
        ("given_std_len", C.c_size_t),
        ("mean_out", C.c_void_p),
        ("mean_out_len", C.c_size_t),
        ("var_out", C.c_void_p),
        ("var_out_len", C.c_size_t),
        ("std_out", C.c_void_p),
        ("std_out_len", C.c_size_t),
        ("progress", _progress_fn),
        ("progress_data", C.c_void_p),
        ("no_hugepage_advice", C.c_bool),
    ]


class Sparse(C.Structure):
    _fields_ = [
        ("n_rows", C.c_uint64),
        ("n_cols", C.c_uint64),
        ("indptr", C.c_void_p),
        ("indptr_len", C.c_size_t),
        ("indices", C.c_void_p),
        ("indices_len", C.c_size_t),
        ("data", C.c_void_p),
        ("data_len", C.c_size_t),
        ("index_type", C.c_uint32),
        ("value_type", C.c_uint32),
        ("index_base", C.c_uint32),
    ]


class Dense(C.Structure):
    _fields_ = [
        ("n_rows", C.c_uint64),
        ("n_cols", C.c_uint64),
        ("data", C.c_void_p),
        ("data_len", C.c_size_t),
        ("value_type", C.c_uint32),
        ("row_stride", C.c_uint64),
    ]


class DenseOut(C.Structure):
    _fields_ = [
        ("data", C.c_void_p),
        ("data_len", C.c_size_t),
        ("value_type", C.c_uint32),
        ("n_cols", C.c_uint64),
        ("row_stride", C.c_uint64),
    ]


class ValuesOut(C.Structure):
    _fields_ = [("data", C.c_void_p), ("data_len", C.c_size_t), ("value_type", C.c_uint32)]


lib = C.CDLL(_native.__file__)
_P = C.POINTER
for _name, _args in {
    "sc_options_default": [_P(Options), C.c_uint32],
    "sc_scale_csr": [_P(Sparse), _P(Options), _P(DenseOut)],
    "sc_scale_csc": [_P(Sparse), _P(Options), _P(DenseOut)],
    "sc_scale_csc_colmajor": [_P(Sparse), _P(Options), _P(DenseOut)],
    "sc_scale_csr_values": [_P(Sparse), _P(Options), _P(ValuesOut)],
    "sc_scale_csc_values": [_P(Sparse), _P(Options), _P(ValuesOut)],
    "sc_scale_dense": [_P(Dense), _P(Options), _P(DenseOut)],
    "sc_accumulator_len": [_P(Options), C.c_uint64, _P(C.c_size_t)],
    "sc_accumulator_init": [_P(Options), C.c_uint64, C.c_void_p, C.c_size_t],
    "sc_accumulate_csr": [_P(Sparse), _P(Options), C.c_void_p, C.c_size_t],
    "sc_accumulate_dense": [_P(Dense), _P(Options), C.c_void_p, C.c_size_t],
    "sc_accumulator_merge": [_P(Options), C.c_uint64, C.c_void_p, C.c_size_t, C.c_void_p, C.c_size_t],
    "sc_accumulator_finalize": [_P(Options), C.c_uint64, C.c_void_p, C.c_size_t],
}.items():
    _f = getattr(lib, _name)
    _f.argtypes = _args
    _f.restype = C.c_int32
lib.sc_last_error_message.argtypes = [C.c_char_p, C.c_size_t]
lib.sc_last_error_message.restype = C.c_size_t
lib.sc_status_name.argtypes = [C.c_int32]
lib.sc_status_name.restype = C.c_char_p
lib.sc_status_kind.argtypes = [C.c_int32]
lib.sc_status_kind.restype = C.c_int32
lib.sc_version.argtypes = []
lib.sc_version.restype = C.c_char_p
lib.sc_abi_version.argtypes = []
lib.sc_abi_version.restype = C.c_uint32

if lib.sc_abi_version() != ABI_VERSION:  # pragma: no cover - a broken build
    raise ImportError(f"scscale: native ABI {lib.sc_abi_version()} but the bindings expect {ABI_VERSION}")

# Status codes by the library's own names (codes are below 128; unknown ones are named so).
STATUS = {name: code for code in range(128) if (name := lib.sc_status_name(code).decode()) != "SC_STATUS_UNKNOWN"}
STATUS_DUPLICATE_ENTRY = STATUS["SC_STATUS_DUPLICATE_ENTRY"]
STATUS_UNSUPPORTED = STATUS["SC_STATUS_UNSUPPORTED"]
STATUS_CANCELLED = STATUS["SC_STATUS_CANCELLED"]


def last_error_message() -> str:
    n = lib.sc_last_error_message(None, 0)
    buf = C.create_string_buffer(n + 1)
    lib.sc_last_error_message(buf, n + 1)
    return buf.value.decode("utf-8", "replace")


class _Interrupt:
    """Ctrl-C during a call on the main thread (with Python's default SIGINT handler): while the
    call runs, SIGINT only sets a flag (Python runs the handler at the next bytecode of the main
    thread, i.e. inside the progress callback); the callback then asks the library to stop (it
    returns SC_STATUS_CANCELLED) and ``call`` raises KeyboardInterrupt after it has returned.
    The previous handler is restored first, so a second Ctrl-C behaves as usual."""

    def __init__(self, hook=None) -> None:
        self.interrupted = False
        self.hook = hook
        self.fn = _progress_fn(self._progress)

    def _on_sigint(self, _signum, _frame) -> None:
        self.interrupted = True

    def _progress(self, _data, done, total) -> int:
        if self.hook is not None and self.hook(done, total):
            return 1  # cancelled without Ctrl-C: CancelledError
        return 1 if self.interrupted else 0


# Tests set this to a callable (done, total) -> bool, run at every progress report of a call on
# the main thread; True cancels the call (CancelledError).
_test_progress_hook = None


def _interruptible(opts) -> _Interrupt | None:
    if opts is None or opts.progress or threading.current_thread() is not threading.main_thread():
        return None
    if signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        return None
    return _Interrupt(_test_progress_hook)


def call(fn_name: str, *args) -> None:
    """Calls ``sc_<fn_name>`` and raises the matching ScscaleError on a non-zero status; Ctrl-C
    during a call on the main thread stops it and raises KeyboardInterrupt.

    The message is read on the same OS thread right after the call (it is thread-local).
    """
    opts = next((a for a in args if isinstance(a, Options)), None)
    interrupt = _interruptible(opts)
    if interrupt is None:
        status = getattr(lib, fn_name)(*args)
    else:
        opts.progress = interrupt.fn
        previous = signal.signal(signal.SIGINT, interrupt._on_sigint)
        try:
            status = getattr(lib, fn_name)(*args)
        finally:
            signal.signal(signal.SIGINT, previous)
            opts.progress = _progress_fn()
        if interrupt.interrupted:
            # Read the (thread-local) message of a cancelled call before raising.
            last_error_message()
            raise KeyboardInterrupt
    if status != 0:
        name = lib.sc_status_name(status).decode()
        raise _error_class(status)(status, name, last_error_message())


def version() -> str:
    return lib.sc_version().decode()


def value_type(dtype: np.dtype) -> int:
    if dtype == np.float32:
        return VALUE_FLOAT32
    if dtype == np.float64:
        return VALUE_FLOAT64
    raise TypeError(f"unsupported value dtype {dtype}")


def index_type(dtype: np.dtype) -> int:
    if dtype == np.int32:
        return INDEX_INT32
    if dtype == np.int64:
        return INDEX_INT64
    raise TypeError(f"unsupported index dtype {dtype}")


def ptr(a: np.ndarray) -> int | None:
    return a.ctypes.data if a.size else None


def options(
    *,
    center: bool,
    max_value: float | None,
    n_partitions: int,
    n_threads: int,
    groups: np.ndarray | None = None,
    mean_out: np.ndarray | None = None,
    var_out: np.ndarray | None = None,
    std_out: np.ndarray | None = None,
    flavor: int = FLAVOR_SCANPY,
    n_groups: int = 1,
) -> Options:
    """Scanpy-flavor options (``flavor``: which series); the arrays must stay alive until the
    call returns."""
    o = Options()
    call("sc_options_default", C.byref(o), flavor)
    o.center = bool(center)
    o.scale = True
    o.clip = max_value is not None
    if max_value is not None:
        o.max_value = float(max_value)
    o.n_partitions = int(n_partitions)
    o.n_threads = int(n_threads)
    if groups is not None:
        o.groups, o.groups_len, o.n_groups = groups.ctypes.data, groups.size, n_groups
    for field, arr in (("mean_out", mean_out), ("var_out", var_out), ("std_out", std_out)):
        if arr is not None:
            setattr(o, field, arr.ctypes.data)
            setattr(o, field + "_len", arr.size)
    return o


def give_stats(o: Options, mean: np.ndarray, std: np.ndarray) -> Options:
    """Makes the call use these statistics verbatim (both arrays must outlive the call)."""
    o.given_mean, o.given_mean_len = mean.ctypes.data, mean.size
    o.given_std, o.given_std_len = std.ctypes.data, std.size
    return o


def sparse(indptr: np.ndarray, indices: np.ndarray, data: np.ndarray, shape: tuple[int, int]) -> Sparse:
    s = Sparse()
    s.n_rows, s.n_cols = shape
    s.indptr, s.indptr_len = ptr(indptr), indptr.size
    s.indices, s.indices_len = ptr(indices), indices.size
    s.data, s.data_len = ptr(data), data.size
    s.index_type = index_type(indptr.dtype)
    s.value_type = value_type(data.dtype)
    s.index_base = 0
    return s


def dense(x: np.ndarray) -> Dense:
    d = Dense()
    d.n_rows, d.n_cols = x.shape
    d.data, d.data_len = ptr(x), x.size
    d.value_type = value_type(x.dtype)
    d.row_stride = 0
    return d


def dense_out(out: np.ndarray) -> DenseOut:
    d = DenseOut()
    d.data, d.data_len = ptr(out), out.size
    d.value_type = value_type(out.dtype)
    d.n_cols = out.shape[1]
    d.row_stride = 0
    return d


def values_out(out: np.ndarray) -> ValuesOut:
    v = ValuesOut()
    v.data, v.data_len = ptr(out), out.size
    v.value_type = value_type(out.dtype)
    return v
