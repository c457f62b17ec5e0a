# The repository's 10x subset (1,000 genes x 10,000 mouse cells) as a user would load it: Seurat
# object from Read10X, NormalizeData, variable features, an interleaved batch column. A v3 Assay
# under Seurat 4, an Assay5 under Seurat 5; identical() to the installed Seurat either way.

tenx_object <- function() {
  dir <- testthat::test_path("..", "..", "..", "..", "examples", "data", "10x-10k-subset")
  testthat::skip_if_not(dir.exists(dir), "the repository's examples/data is not here (tarball check)")
  counts <- Seurat::Read10X(dir)
  obj <- suppressWarnings(SeuratObject::CreateSeuratObject(counts = counts))
  obj <- Seurat::NormalizeData(obj, verbose = FALSE)
  obj <- Seurat::FindVariableFeatures(obj, nfeatures = 300, verbose = FALSE)
  set.seed(10)
  obj$batch <- sample(c("A", "B", "C"), ncol(obj), replace = TRUE)
  obj
}

expect_same_assay <- function(obj, ...) {
  a <- suppressMessages(ours(obj, ...))
  b <- suppressMessages(seurat_scale(obj, ...))
  expect_identical(a[["RNA"]], b[["RNA"]])
  expect_same_command(a, b)
  invisible(a)
}

test_that("10x subset: default, split.by batch, all features", {
  obj <- tenx_object()
  expect_same_assay(obj)
  expect_same_assay(obj, split.by = "batch")
  expect_same_assay(obj, features = rownames(obj), scale.max = 2)
})

test_that("10x subset, Seurat 5: split layers stitched and by layer, regression by layer", {
  skip_unless_seurat5()
  obj <- tenx_object()
  obj[["RNA"]] <- split(obj[["RNA"]], f = obj$batch)
  obj <- suppressWarnings(Seurat::FindVariableFeatures(obj, nfeatures = 300, verbose = FALSE))
  expect_same_assay(obj)
  b <- expect_same_assay(obj, by.layer = TRUE)
  # Layers come in the order of the batches' first cells, in both.
  expect_setequal(grep("^scale", SeuratObject::Layers(b), value = TRUE), paste0("scale.data.", c("A", "B", "C")))
  feats <- SeuratObject::VariableFeatures(obj)[1:60]
  a <- suppressMessages(ours(obj, features = feats, by.layer = TRUE, vars.to.regress = "nCount_RNA"))
  s <- suppressMessages(seurat_scale(obj, features = feats, by.layer = TRUE, vars.to.regress = "nCount_RNA"))
  for (l in paste0("scale.data.", c("A", "B", "C"))) {
    za <- SeuratObject::LayerData(a, layer = l); zs <- SeuratObject::LayerData(s, layer = l)
    expect_identical(dimnames(za), dimnames(zs))
    expect_lt(max(abs(za - zs)), 1e-8)
  }
})
