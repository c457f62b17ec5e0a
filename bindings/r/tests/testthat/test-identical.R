# Bit-identical to Seurat::ScaleData for sparse input without regression.

expect_bitwise <- function(object, ...) {
  a <- ours(object, ...)
  b <- seurat_scale(object, ...)
  expect_identical(a, b)
  invisible(a)
}

m <- awkward_matrix()

test_that("defaults, including constant/all-zero/negative/explicit-zero genes", {
  a <- expect_bitwise(m)
  expect_true(any(a == -Inf))       # the underflow gene really is exercised
  expect_true(all(a[1:2, ] == 0))   # NaN -> 0
})

test_that("explicit zeros matter and are honoured", {
  d <- Matrix::drop0(m)
  expect_lt(length(d@x), length(m@x))
  expect_bitwise(d)
  expect_false(identical(ours(d), ours(m)))
})

test_that("scale.max Inf, 2, -1", {
  for (s in c(Inf, 2, -1)) expect_bitwise(m, scale.max = s)
})

test_that("do.center / do.scale off", {
  expect_bitwise(m, do.center = FALSE)
  expect_bitwise(m, do.scale = FALSE)
  expect_bitwise(m, do.center = FALSE, do.scale = FALSE)
  expect_bitwise(m, do.center = FALSE, do.scale = FALSE, scale.max = 0.5)
})

test_that("split.by: factor with NA, character, data.frame, singleton group", {
  set.seed(3)
  f <- factor(sample(c("a", "b", "c"), ncol(m), replace = TRUE), levels = c("c", "a", "b", "empty"))
  f[c(2, 7, 40)] <- NA
  a <- expect_bitwise(m, split.by = f)
  expect_true(all(a[, c(2, 7, 40)] == 0))
  expect_bitwise(m, split.by = as.character(f))
  g <- as.character(f); g[10] <- "solo"
  expect_bitwise(m, split.by = g)
  df <- data.frame(x = sample(c("u", "v"), ncol(m), TRUE), y = sample(1:2, ncol(m), TRUE))
  expect_bitwise(m, split.by = df)
  expect_bitwise(m, split.by = f, do.center = FALSE, scale.max = 3)
})

test_that("features: subset, reordered, duplicated, unknown", {
  feats <- c("gene9", "gene3", "nope", "gene9", "gene1", "gene60", "gene4", "gene2")
  expect_bitwise(m, features = feats)
  expect_bitwise(m, features = rev(rownames(m)))
  expect_bitwise(m, features = feats, split.by = rep(c("x", "y", NA), length.out = ncol(m)))
})

test_that("named dimnames are kept", {
  n <- m
  names(dimnames(n)) <- c("features", "cells")
  expect_bitwise(n, features = c("gene3", "gene1"))
  expect_bitwise(as.matrix(n))
})

test_that("one cell, two cells", {
  expect_bitwise(m[, 1, drop = FALSE])
  expect_bitwise(m[, 1:2])
})

test_that("block.size and min.cells.to.block change nothing", {
  expect_identical(ours(m, block.size = 7, min.cells.to.block = 5), ours(m))
  expect_bitwise(m, block.size = 7)
})

test_that("NaN in the data", {
  n <- m
  n@x[c(3, 50)] <- NaN
  expect_bitwise(n)
})

test_that("a larger random matrix, several thread counts", {
  set.seed(11)
  big <- Matrix::rsparsematrix(500, 3000, 0.1)
  big@x <- log1p(abs(big@x) * 5)
  dimnames(big) <- list(paste0("g", 1:500), paste0("c", 1:3000))
  ref <- seurat_scale(big)
  for (t in c(1L, 2L, 3L)) {
    old <- options(scscale.threads = t)
    expect_identical(ours(big), ref)
    options(old)
  }
})

test_that("pbmc_small: Seurat object, default (variable features)", {
  pbmc_small <- fresh_pbmc()
  a <- ours(pbmc_small)
  b <- seurat_scale(pbmc_small)
  expect_identical(dim(a@assays$RNA@scale.data), c(20L, 80L))
  expect_identical(a@assays$RNA@scale.data, b@assays$RNA@scale.data)
  expect_identical(a@assays, b@assays)
  expect_identical(a@meta.data, b@meta.data)
  expect_same_command(a, b)
})

test_that("pbmc_small: all features in a shuffled order, split.by metadata with NA", {
  pbmc_small <- fresh_pbmc()
  set.seed(5)
  feats <- sample(rownames(pbmc_small))
  pbmc_small$grp <- pbmc_small$groups
  pbmc_small$grp[c(1, 5, 9)] <- NA
  a <- ours(pbmc_small, features = feats, split.by = "grp")
  b <- seurat_scale(pbmc_small, features = feats, split.by = "grp")
  expect_identical(a@assays$RNA@scale.data, b@assays$RNA@scale.data)
  expect_identical(rownames(a@assays$RNA@scale.data), rownames(pbmc_small))
  expect_same_command(a, b)
})

test_that("pbmc_small: Assay method and the dgCMatrix data slot", {
  pbmc_small <- fresh_pbmc()
  assay <- pbmc_small@assays$RNA
  expect_identical(ours(assay, do.center = FALSE, scale.max = 3), seurat_scale(assay, do.center = FALSE, scale.max = 3))
  dat <- assay_layer(pbmc_small, "data")
  expect_identical(ours(dat), seurat_scale(dat))
})

test_that("dense double matrix input (Seurat's long double FastRowScale)", {
  d <- as.matrix(m)
  set.seed(8)
  f <- sample(c("a", "b", NA), ncol(d), replace = TRUE)
  expect_bitwise(d)
  expect_bitwise(d, scale.max = Inf)
  expect_bitwise(d, do.center = FALSE)
  expect_bitwise(d, do.scale = FALSE, scale.max = 1)
  expect_bitwise(d, split.by = f, features = c("gene7", "gene1", "gene4", "gene3", "nope", "gene7"))
  expect_bitwise(d[, 1, drop = FALSE])
  set.seed(9)
  big <- matrix(log1p(stats::rexp(300 * 2000)), 300, 2000, dimnames = list(paste0("g", 1:300), paste0("c", 1:2000)))
  expect_bitwise(big)
  # Dense and sparse input give different bits in Seurat, and here.
  expect_false(identical(ours(d), ours(m)))
})
