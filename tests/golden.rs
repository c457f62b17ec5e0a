//! Golden files from the real tools (tests/golden/README.md): every case is re-run through the
//! C ABI and must reproduce the tool's output bytes, means and stds exactly.

mod common;
use common::last_error;
use scscale::*;
use serde_json::Value as Json;
use sha2::{Digest, Sha256};
use std::ffi::c_void;
use std::path::{Path, PathBuf};

fn golden_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

fn read_json(p: &Path) -> Json {
    serde_json::from_str(&std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))).unwrap()
}

/// Raw little-endian bytes of a golden file, re-aligned in a Vec of u64 words.
fn read_aligned(p: &Path) -> (Vec<u64>, usize) {
    let bytes = std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    let mut words = vec![0u64; bytes.len().div_ceil(8)];
    unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), words.as_mut_ptr() as *mut u8, bytes.len()) };
    (words, bytes.len())
}

fn f64s(p: &Path) -> Vec<f64> {
    let b = std::fs::read(p).unwrap();
    b.chunks_exact(8).map(|c| f64::from_le_bytes(c.try_into().unwrap())).collect()
}

fn elem(t: &str) -> (u32, usize) {
    match t {
        "float32" => (SC_VALUE_FLOAT32, 4),
        "float64" => (SC_VALUE_FLOAT64, 8),
        "int32" => (SC_INDEX_INT32, 4),
        "int64" => (SC_INDEX_INT64, 8),
        other => panic!("unknown type {other}"),
    }
}

struct Input {
    meta: Json,
    indptr: (Vec<u64>, usize),
    indices: (Vec<u64>, usize),
    data: (Vec<u64>, usize),
}

impl Input {
    fn load(name: &str) -> Input {
        let d = golden_dir().join("inputs").join(name);
        let meta = read_json(&d.join("meta.json"));
        let sparse = meta["layout"] != "dense";
        let empty = (vec![], 0);
        Input {
            indptr: if sparse { read_aligned(&d.join("indptr.bin")) } else { empty.clone() },
            indices: if sparse { read_aligned(&d.join("indices.bin")) } else { empty },
            data: read_aligned(&d.join("data.bin")),
            meta,
        }
    }
    fn dim(&self, k: &str) -> u64 {
        self.meta[k].as_u64().unwrap()
    }
    fn sparse(&self) -> sc_sparse {
        let (it, isz) = elem(self.meta["index_type"].as_str().unwrap());
        let (vt, vsz) = elem(self.meta["value_type"].as_str().unwrap());
        sc_sparse {
            n_rows: self.dim("n_rows"),
            n_cols: self.dim("n_cols"),
            indptr: self.indptr.0.as_ptr() as *const c_void,
            indptr_len: self.indptr.1 / isz,
            indices: self.indices.0.as_ptr() as *const c_void,
            indices_len: self.indices.1 / isz,
            data: self.data.0.as_ptr() as *const c_void,
            data_len: self.data.1 / vsz,
            index_type: it,
            value_type: vt,
            index_base: 0,
        }
    }
    fn dense(&self) -> sc_dense {
        let (vt, vsz) = elem(self.meta["value_type"].as_str().unwrap());
        sc_dense {
            n_rows: self.dim("n_rows"),
            n_cols: self.dim("n_cols"),
            data: self.data.0.as_ptr() as *const c_void,
            data_len: self.data.1 / vsz,
            value_type: vt,
            row_stride: 0,
        }
    }
}

/// Runs one case; returns a description of the first mismatch.
fn run_case(dir: &Path) -> Result<(), String> {
    let meta = read_json(&dir.join("meta.json"));
    let input = Input::load(meta["input"].as_str().unwrap());
    let seurat = meta["flavor"] == "seurat";
    let mut opts = std::mem::MaybeUninit::<sc_options>::uninit();
    unsafe { sc_options_default(opts.as_mut_ptr(), if seurat { SC_FLAVOR_SEURAT } else { SC_FLAVOR_SCANPY }) };
    let mut opts = unsafe { opts.assume_init() };
    opts.center = meta.get("zero_center").or(meta.get("center")).and_then(Json::as_bool).unwrap();
    opts.scale = meta.get("scale").and_then(Json::as_bool).unwrap_or(true);
    match meta["max_value"].as_str() {
        Some(s) => {
            opts.clip = true;
            opts.max_value = s.parse().unwrap();
        }
        None => opts.clip = false,
    }
    opts.n_partitions = meta.get("n_partitions").and_then(Json::as_u64).unwrap_or(1) as u32;
    opts.n_threads = 2;
    let groups: Vec<i32> = if dir.join("groups.bin").exists() {
        std::fs::read(dir.join("groups.bin")).unwrap().chunks_exact(4).map(|c| i32::from_le_bytes(c.try_into().unwrap())).collect()
    } else {
        vec![]
    };
    if !groups.is_empty() {
        opts.groups = groups.as_ptr();
        opts.groups_len = groups.len();
        opts.n_groups = meta.get("n_groups").and_then(Json::as_u64).unwrap_or(1) as u32;
    }
    let map: Vec<i64> = if dir.join("column_map.bin").exists() {
        std::fs::read(dir.join("column_map.bin")).unwrap().chunks_exact(8).map(|c| i64::from_le_bytes(c.try_into().unwrap())).collect()
    } else {
        vec![]
    };
    if !map.is_empty() {
        opts.column_map = map.as_ptr();
        opts.column_map_len = map.len();
    }
    let n_genes = input.dim("n_cols") as usize;
    let n_stats = opts.n_groups.max(1) as usize * n_genes;
    let (mut mean, mut std) = (vec![0.0f64; n_stats], vec![0.0f64; n_stats]);
    opts.mean_out = mean.as_mut_ptr();
    opts.mean_out_len = n_stats;
    opts.std_out = std.as_mut_ptr();
    opts.std_out_len = n_stats;

    let (out_type, out_size) = elem(meta["out_type"].as_str().unwrap());
    let out_len = meta["out_len"].as_u64().unwrap() as usize;
    let mut out = vec![0u64; (out_len * out_size).div_ceil(8)];
    let kind = meta["kind"].as_str().unwrap();
    let n_rows = input.dim("n_rows") as usize;
    let dense_out = sc_dense_out {
        data: out.as_mut_ptr() as *mut c_void,
        data_len: out_len,
        value_type: out_type,
        n_cols: out_len
            .checked_div(n_rows)
            .map_or_else(|| meta.get("n_out").and_then(Json::as_u64).unwrap_or(n_genes as u64), |w| w as u64),
        row_stride: 0,
    };
    let values_out = sc_values_out { data: out.as_mut_ptr() as *mut c_void, data_len: out_len, value_type: out_type };
    let status = unsafe {
        match kind {
            "csr_dense" => sc_scale_csr(&input.sparse(), &opts, &dense_out),
            "csc_dense" => sc_scale_csc(&input.sparse(), &opts, &dense_out),
            "csr_values" => sc_scale_csr_values(&input.sparse(), &opts, &values_out),
            "csc_values" => sc_scale_csc_values(&input.sparse(), &opts, &values_out),
            "dense_dense" => sc_scale_dense(&input.dense(), &opts, &dense_out),
            other => return Err(format!("unknown kind {other}")),
        }
    };
    if status != sc_status::SC_STATUS_OK {
        return Err(format!("status {status:?}: {}", last_error()));
    }
    let got = unsafe { std::slice::from_raw_parts(out.as_ptr() as *const u8, out_len * out_size) };
    if dir.join("out.bin").exists() {
        let want = std::fs::read(dir.join("out.bin")).unwrap();
        if let Some(i) = (0..want.len().min(got.len())).find(|&i| want[i] != got[i]).or((want.len() != got.len()).then_some(0)) {
            return Err(format!("output differs at byte {i} (element {})", i / out_size));
        }
    }
    if let Some(sha) = meta.get("out_sha256").and_then(Json::as_str) {
        let h = format!("{:x}", Sha256::digest(got));
        if h != sha {
            return Err("output SHA-256 differs".into());
        }
    }
    for (file, got) in [("mean.bin", &mean), ("std.bin", &std)] {
        if dir.join(file).exists() {
            let want = f64s(&dir.join(file));
            if let Some(i) = (0..want.len()).find(|&i| want[i].to_bits() != got[i].to_bits()) {
                return Err(format!("{file}[{i}]: want {:e}, got {:e}", want[i], got[i]));
            }
        }
    }
    Ok(())
}

fn run_tool(tool: &str, min_cases: usize) {
    let root = golden_dir().join(tool);
    let mut dirs: Vec<_> = std::fs::read_dir(&root)
        .unwrap_or_else(|e| panic!("{}: {e}; regenerate with tests/golden/make_golden_*", root.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("meta.json").exists())
        .collect();
    dirs.sort();
    assert!(dirs.len() >= min_cases, "only {} {tool} golden cases found", dirs.len());
    let failures: Vec<String> =
        dirs.iter().filter_map(|d| run_case(d).err().map(|e| format!("{}: {e}", d.file_name().unwrap().to_string_lossy()))).collect();
    assert!(failures.is_empty(), "{} of {} {tool} cases differ:\n{}", failures.len(), dirs.len(), failures.join("\n"));
    eprintln!("{} {tool} golden cases reproduced bit for bit", dirs.len());
}

#[test]
fn scanpy_golden_cases() {
    run_tool("scanpy", 300);
}

#[test]
fn seurat_golden_cases() {
    run_tool("seurat", 10);
}
