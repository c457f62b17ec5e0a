//! Compiles Seurat's dense scaler (src/seurat_dense.c): it needs C's long double, which Rust lacks.

fn main() {
    println!("cargo:rerun-if-changed=src/seurat_dense.c");
    cc::Build::new()
        .file("src/seurat_dense.c")
        .std("c99")
        // The bits must be R's: never fuse a multiply and an add (R's own build does not either).
        .flag_if_supported("-ffp-contract=off")
        .warnings(true)
        .compile("scscale_seurat_dense");
}
