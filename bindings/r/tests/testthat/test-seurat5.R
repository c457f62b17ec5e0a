# Seurat 5 objects (Assay5 layers): identical() to the installed Seurat 5's stored result.

# Both sides on copies of one object; the whole assay (every layer, dimnames, feature and cell
# maps) and the command log must be identical.
expect_same_v5 <- function(obj, ...) {
  a <- suppressMessages(ours(obj, ...))
  b <- suppressMessages(seurat_scale(obj, ...))
  expect_identical(a[["RNA"]], b[["RNA"]])
  expect_identical(SeuratObject::Layers(a), SeuratObject::Layers(b))
  expect_same_command(a, b)
  invisible(a)
}
layer <- function(obj, name) SeuratObject::LayerData(obj, layer = name)

test_that("v5 default: variable features, rows in the assay's order", {
  skip_unless_seurat5()
  obj <- v5_pbmc()
  expect_s4_class(obj[["RNA"]], "Assay5")
  a <- expect_same_v5(obj)
  z <- layer(a, "scale.data")
  expect_identical(dim(z), c(60L, 80L))
  expect_identical(rownames(z), rownames(obj)[rownames(obj) %in% SeuratObject::VariableFeatures(obj)])
})

test_that("v5: all features shuffled, a subset with unknown and duplicated names", {
  skip_unless_seurat5()
  obj <- v5_pbmc()
  set.seed(5)
  expect_same_v5(obj, features = sample(rownames(obj)))
  expect_same_v5(obj, features = c("CD79A", "nope", "MS4A1", "CD79A", rownames(obj)[200]))
})

test_that("v5: split.by a metadata column with NA groups", {
  skip_unless_seurat5()
  obj <- v5_pbmc()
  obj$grp <- obj$letter.idents
  obj$grp[c(1, 5, 9)] <- NA
  a <- expect_same_v5(obj, split.by = "grp")
  expect_true(all(layer(a, "scale.data")[, c(1, 5, 9)] == 0))
})

test_that("v5: scale.max Inf and 2, do.center / do.scale off, save to another layer", {
  skip_unless_seurat5()
  obj <- v5_pbmc()
  expect_same_v5(obj, scale.max = Inf)
  expect_same_v5(obj, scale.max = 2)
  expect_same_v5(obj, do.center = FALSE)
  expect_same_v5(obj, do.scale = FALSE)
  a <- expect_same_v5(obj, layer = "data", save = "z")
  expect_true("z" %in% SeuratObject::Layers(a))
})

test_that("v5: layer = \"counts\" and use.umi (which reads counts)", {
  skip_unless_seurat5()
  obj <- v5_pbmc()
  expect_same_v5(obj, layer = "counts")
  expect_same_v5(obj, use.umi = TRUE)
})

test_that("v5 split layers: stitched (by.layer = FALSE) and per layer (by.layer = TRUE)", {
  skip_unless_seurat5()
  obj <- v5_split()
  expect_true(all(c("data.g1", "data.g2") %in% SeuratObject::Layers(obj)))
  a <- expect_same_v5(obj)
  expect_true("scale.data" %in% SeuratObject::Layers(a))
  b <- expect_same_v5(obj, by.layer = TRUE)
  expect_true(all(c("scale.data.g1", "scale.data.g2") %in% SeuratObject::Layers(b)))
  expect_same_v5(obj, by.layer = TRUE, features = rownames(obj)[1:30])
  expect_same_v5(obj, layer = "counts")
})

test_that("v5 split layers + split.by: Seurat's assignment by position is reproduced", {
  skip_unless_seurat5()
  obj <- v5_split()
  a <- expect_same_v5(obj, split.by = "letter.idents")
  # Seurat splits the stitched matrix's columns (g1's cells, then g2's) with the metadata in the
  # object's cell order, so cells get other cells' groups: not the result of the unsplit object.
  u <- suppressMessages(ours(v5_pbmc(), split.by = "letter.idents", features = SeuratObject::VariableFeatures(obj)))
  za <- layer(a, "scale.data")
  zu <- layer(u, "scale.data")[rownames(za), colnames(za)]
  expect_false(isTRUE(all.equal(za, zu)))
})

test_that("v5: dense double matrix layer (FastRowScale with the installed matrixStats)", {
  skip_unless_seurat5()
  obj <- v5_pbmc()
  SeuratObject::LayerData(obj, layer = "data") <- as.matrix(layer(obj, "data"))
  expect_true(is.matrix(layer(obj, "data")))
  expect_same_v5(obj)
  expect_same_v5(obj, features = rownames(obj), split.by = "groups")
})

test_that("v5: regression within 1e-8", {
  skip_unless_seurat5()
  obj <- v5_pbmc()
  a <- suppressMessages(ours(obj, vars.to.regress = c("nCount_RNA", "letter.idents")))
  b <- suppressMessages(seurat_scale(obj, vars.to.regress = c("nCount_RNA", "letter.idents")))
  za <- layer(a, "scale.data"); zb <- layer(b, "scale.data")
  expect_identical(dimnames(za), dimnames(zb))
  expect_lt(max(abs(za - zb)), 1e-8)
  expect_same_command(a, b)
})

test_that("v5 Assay5 method directly", {
  skip_unless_seurat5()
  obj <- v5_split()
  expect_identical(ours(obj[["RNA"]], by.layer = TRUE), suppressMessages(seurat_scale(obj[["RNA"]], by.layer = TRUE)))
})

test_that("v5 bad input: unknown layer, unknown split.by column, no known feature", {
  skip_unless_seurat5()
  obj <- v5_pbmc()
  msg <- function(expr) tryCatch({ suppressMessages(suppressWarnings(expr)); "no error" }, error = conditionMessage)
  for (args in list(list(layer = "nope"), list(split.by = "nope"), list(features = c("nope", "nada")))) {
    m.ours <- msg(do.call(ours, c(list(obj), args)))
    m.seurat <- msg(do.call(seurat_scale, c(list(obj), args)))
    expect_false(identical(m.ours, "no error"))
    expect_identical(m.ours, m.seurat)
  }
})

test_that("v5: a BPCells IterableMatrix layer is delegated to Seurat's own method", {
  skip_unless_seurat5()
  # A minimal stand-in for BPCells' class (BPCells cannot be installed here): enough for
  # SeuratObject to store and subset it, so Seurat's dispatch reaches its ScaleData.IterableMatrix.
  where <- globalenv()
  methods::setClass("IterableMatrix", representation(m = "dgCMatrix"), where = where)
  on.exit(methods::removeClass("IterableMatrix", where = where), add = TRUE)
  methods::setMethod("dim", "IterableMatrix", function(x) dim(x@m), where = where)
  methods::setMethod("dimnames", "IterableMatrix", function(x) dimnames(x@m), where = where)
  methods::setMethod("dimnames<-", "IterableMatrix", function(x, value) { dimnames(x@m) <- value; x }, where = where)
  methods::setMethod("[", "IterableMatrix", function(x, i, j, ..., drop = TRUE) {
    if (missing(i)) i <- seq_len(nrow(x))
    if (missing(j)) j <- seq_len(ncol(x))
    methods::new("IterableMatrix", m = x@m[i, j, drop = FALSE])
  }, where = where)
  obj <- v5_pbmc()
  SeuratObject::LayerData(obj, layer = "data") <- methods::new("IterableMatrix", m = layer(obj, "data"))
  expect_s4_class(SeuratObject::LayerData(obj, layer = "data", fast = TRUE), "IterableMatrix")
  err <- function(expr) tryCatch({ expr; "no error" }, error = conditionMessage)
  m.seurat <- err(suppressMessages(seurat_scale(obj)))
  # Seurat's IterableMatrix method needs BPCells: the error shows that method was reached.
  expect_match(m.seurat, "BPCells")
  expect_message(m.ours <- err(ours(obj)), "'IterableMatrix' layer is delegated to Seurat")
  expect_identical(m.ours, m.seurat)
})

test_that("v5 split layers: one layer by its exact name, counts by layer", {
  skip_unless_seurat5()
  obj <- v5_split()
  a <- expect_same_v5(obj, layer = "data.g2")
  expect_identical(ncol(layer(a, "scale.data")), sum(obj$groups == "g2"))
  expect_same_v5(obj, layer = "counts", by.layer = TRUE)
  # use.umi reads "counts", which is no layer of a split assay: SeuratObject takes the first
  # counts.* layer with a warning, in Seurat as here.
  suppressWarnings(expect_same_v5(obj, use.umi = TRUE, by.layer = TRUE))
})

test_that("v5: scaling again over an existing scale.data layer (same and other features)", {
  skip_unless_seurat5()
  obj <- v5_pbmc()
  once <- suppressMessages(seurat_scale(obj))
  expect_same_v5(once)
  expect_same_v5(once, scale.max = 3)
  # Other features than the stored layer's: SeuratObject warns, in Seurat as here (run_scale:
  # seurat_scale() would muffle Seurat's warnings).
  w.ours <- NULL; w.seurat <- NULL
  a <- withCallingHandlers(suppressMessages(ours(once, features = rownames(obj)[1:40])),
                           warning = function(w) { w.ours <<- c(w.ours, conditionMessage(w)); invokeRestart("muffleWarning") })
  b <- withCallingHandlers(suppressMessages(run_scale(Seurat::ScaleData, once, features = rownames(obj)[1:40])),
                           warning = function(w) { w.seurat <<- c(w.seurat, conditionMessage(w)); invokeRestart("muffleWarning") })
  expect_identical(a[["RNA"]], b[["RNA"]])
  expect_identical(w.ours, w.seurat)
  expect_true(any(grepl("Different features", w.ours)))
})
