"""The ctypes mirrors of the C structs (scscale._ffi) against include/scscale.h: a C compiler
prints every field's offset and size and each struct's size and alignment, and every field name,
in order, must match. Also the constants the binding hard-codes, and the status codes it reads from the library."""

from __future__ import annotations

import ctypes
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from scscale import _ffi

HEADER = Path(__file__).resolve().parents[3] / "include" / "scscale.h"
STRUCTS = {
    "sc_options": _ffi.Options,
    "sc_sparse": _ffi.Sparse,
    "sc_dense": _ffi.Dense,
    "sc_dense_out": _ffi.DenseOut,
    "sc_values_out": _ffi.ValuesOut,
}
CONSTANTS = {
    "SC_ABI_VERSION": _ffi.ABI_VERSION,
    "SC_FLAVOR_SCANPY": _ffi.FLAVOR_SCANPY,
    "SC_FLAVOR_SCANPY_1_10": _ffi.FLAVOR_SCANPY_1_10,
    "SC_INDEX_INT32": _ffi.INDEX_INT32,
    "SC_INDEX_INT64": _ffi.INDEX_INT64,
    "SC_VALUE_FLOAT32": _ffi.VALUE_FLOAT32,
    "SC_VALUE_FLOAT64": _ffi.VALUE_FLOAT64,
    "SC_KIND_INVALID_INPUT": _ffi.KIND_INVALID_INPUT,
    "SC_KIND_UNSUPPORTED": _ffi.KIND_UNSUPPORTED,
    "SC_KIND_CANCELLED": _ffi.KIND_CANCELLED,
    "SC_KIND_INTERNAL": _ffi.KIND_INTERNAL,
    # Every status the library names (sc_status_name), at the header's value.
    **_ffi.STATUS,
}


def header_fields(struct: str) -> list[str]:
    """Field names of ``typedef struct <struct> { ... }`` in declaration order."""
    text = re.sub(r"/\*.*?\*/", "", HEADER.read_text(), flags=re.S)
    body = re.search(r"typedef struct %s \{(.*?)\} %s;" % (struct, struct), text, re.S)
    assert body, f"{struct} not found in {HEADER}"
    names = []
    for decl in body.group(1).split(";"):
        decl = decl.strip()
        if decl:
            m = re.search(r"\(\*(\w+)\)|(\w+)\s*$", decl)
            names.append(m.group(1) or m.group(2))
    return names


@pytest.fixture(scope="module")
def c_layout(tmp_path_factory) -> dict[str, int]:
    cc = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    if cc is None:
        pytest.fail("no C compiler (cc) to read the header's layout")
    lines = ['#include <stddef.h>', '#include <stdio.h>', f'#include "{HEADER}"', "int main(void) {"]
    for struct in STRUCTS:
        lines.append(f'printf("{struct} size %zu\\n", sizeof(struct {struct}));')
        lines.append(f'printf("{struct} align %zu\\n", _Alignof(struct {struct}));')
        for field in header_fields(struct):
            lines.append(f'printf("{struct}.{field} offset %zu\\n", offsetof(struct {struct}, {field}));')
            lines.append(f'printf("{struct}.{field} size %zu\\n", sizeof(((struct {struct} *)0)->{field}));')
    for name in CONSTANTS:
        lines.append(f'printf("{name} value %lld\\n", (long long)({name}));')
    lines += ["return 0;", "}"]
    d = tmp_path_factory.mktemp("abi")
    src, exe = d / "layout.c", d / "layout"
    src.write_text("\n".join(lines))
    subprocess.run([cc, "-std=c11", "-o", str(exe), str(src)], check=True)
    out = subprocess.run([str(exe)], check=True, capture_output=True, text=True).stdout
    return {f"{k} {what}": int(v) for k, what, v in (line.split() for line in out.splitlines())}


@pytest.mark.parametrize("struct", list(STRUCTS))
def test_struct_matches_header(struct, c_layout):
    cls = STRUCTS[struct]
    ours = [name for name, _ in cls._fields_]
    assert ours == header_fields(struct), f"{struct}: field names/order differ from the header"
    for name, _ in cls._fields_:
        field = getattr(cls, name)
        assert field.offset == c_layout[f"{struct}.{name} offset"], f"{struct}.{name}: offset"
        assert field.size == c_layout[f"{struct}.{name} size"], f"{struct}.{name}: size"
    assert ctypes.sizeof(cls) == c_layout[f"{struct} size"], f"{struct}: size"
    assert ctypes.alignment(cls) == c_layout[f"{struct} align"], f"{struct}: alignment"


@pytest.mark.parametrize("name", list(CONSTANTS))
def test_constant_matches_header(name, c_layout):
    assert CONSTANTS[name] == c_layout[f"{name} value"]


def test_a_changed_layout_would_be_caught(c_layout):
    """The check itself can fail: a mirror with one field's type changed differs from the header."""

    class Wrong(ctypes.Structure):
        _fields_ = [(n, ctypes.c_uint64 if n == "value_type" else t) for n, t in _ffi.ValuesOut._fields_]

    assert ctypes.sizeof(Wrong) != c_layout["sc_values_out size"] or any(
        getattr(Wrong, n).size != c_layout[f"sc_values_out.{n} size"] for n, _ in Wrong._fields_
    )
