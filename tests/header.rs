//! The committed C header must be exactly what cbindgen generates from the sources now.
//! Regenerate with `UPDATE_HEADER=1 cargo test --test header`.

use std::path::PathBuf;

#[test]
fn committed_header_matches_cbindgen() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut config = cbindgen::Config::from_file(root.join("cbindgen.toml")).expect("cbindgen.toml");
    let version = env!("CARGO_PKG_VERSION");
    let (major, minor, patch) = (env!("CARGO_PKG_VERSION_MAJOR"), env!("CARGO_PKG_VERSION_MINOR"), env!("CARGO_PKG_VERSION_PATCH"));
    config.after_includes = Some(format!(
        "\n#define SCSCALE_VERSION \"{version}\"\n#define SCSCALE_VERSION_MAJOR {major}\n#define SCSCALE_VERSION_MINOR {minor}\n#define SCSCALE_VERSION_PATCH {patch}"
    ));
    let mut generated = Vec::new();
    cbindgen::Builder::new().with_crate(&root).with_config(config).generate().expect("cbindgen failed").write(&mut generated);
    let path = root.join("include/scscale.h");
    if std::env::var_os("UPDATE_HEADER").is_some() {
        std::fs::write(&path, &generated).unwrap();
        return;
    }
    let committed = std::fs::read(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "include/scscale.h differs from what cbindgen generates; run `UPDATE_HEADER=1 cargo test --test header` and commit it"
    );
}
