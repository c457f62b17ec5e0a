# vars.to.regress (model.use = "linear"): agreement with Seurat to 1e-8 on the z-scores.

tol <- 1e-8
expect_close <- function(a, b) {
  expect_identical(dimnames(a), dimnames(b))
  expect_lt(max(abs(a - b)), tol)
}

m <- lognorm_matrix()
set.seed(4)
latent <- data.frame(depth = stats::runif(ncol(m), 500, 5000),
                     batch = factor(sample(c("b1", "b2", "b3"), ncol(m), TRUE)),
                     row.names = colnames(m))

test_that("numeric and factor covariates", {
  expect_close(ours(m, vars.to.regress = c("depth", "batch"), latent.data = latent),
               seurat_scale(m, vars.to.regress = c("depth", "batch"), latent.data = latent))
  expect_close(ours(m, vars.to.regress = "depth", latent.data = latent["depth"]),
               seurat_scale(m, vars.to.regress = "depth", latent.data = latent["depth"]))
})

test_that("options: do.center, do.scale, scale.max, features, use.umi", {
  args <- list(vars.to.regress = c("depth", "batch"), latent.data = latent)
  for (extra in list(list(do.center = FALSE), list(do.scale = FALSE), list(scale.max = 1),
                     list(features = c("g7", "g2", "zzz", "g30")), list(use.umi = TRUE))) {
    expect_close(do.call(ours, c(list(m), args, extra)), do.call(seurat_scale, c(list(m), args, extra)))
  }
})

test_that("a rank-deficient design (collinear covariate) is handled like lm", {
  l2 <- latent
  l2$depth2 <- 2 * l2$depth
  expect_close(ours(m, vars.to.regress = c("depth", "depth2", "batch"), latent.data = l2),
               seurat_scale(m, vars.to.regress = c("depth", "depth2", "batch"), latent.data = l2))
})

test_that("a feature as regressor (that feature's own row is noise and is skipped)", {
  a <- ours(m, vars.to.regress = c("depth", "g5"), latent.data = latent["depth"])
  b <- seurat_scale(m, vars.to.regress = c("depth", "g5"), latent.data = latent["depth"])
  keep <- rownames(a) != "g5"
  expect_close(a[keep, ], b[keep, ])
})

test_that("split.by + regression is computed per group, without Seurat's relabelling bug", {
  grp <- rep(c("x", "y", "z"), length.out = ncol(m))   # interleaved groups
  a <- ours(m, vars.to.regress = "depth", latent.data = latent["depth"], split.by = grp)
  # Correct reference: Seurat on each group's cells alone.
  for (lv in unique(grp)) {
    cells <- colnames(m)[grp == lv]
    ref <- seurat_scale(m[, cells], vars.to.regress = "depth", latent.data = latent[cells, "depth", drop = FALSE])
    expect_close(a[, cells], ref)
  }
  # Seurat's own split.by + regression relabels cells, so it differs (PR #10470).
  b <- seurat_scale(m, vars.to.regress = "depth", latent.data = latent["depth"], split.by = grp)
  expect_gt(max(abs(a - b)), 0.1)
})

test_that("pbmc_small: Seurat object with metadata covariates", {
  pbmc_small <- fresh_pbmc()
  feats <- rownames(pbmc_small)
  a <- ours(pbmc_small, features = feats, vars.to.regress = c("nCount_RNA", "letter.idents"))
  b <- seurat_scale(pbmc_small, features = feats, vars.to.regress = c("nCount_RNA", "letter.idents"))
  za <- a@assays$RNA@scale.data; zb <- b@assays$RNA@scale.data
  # Genes that are zero in all cells have exactly zero residuals: 0 in both.
  expect_close(za, zb)
  expect_same_command(a, b)
})

test_that("poisson is delegated to Seurat", {
  pbmc_small <- fresh_pbmc()
  feats <- SeuratObject::VariableFeatures(pbmc_small)[1:5]
  expect_message(a <- ours(pbmc_small, features = feats, vars.to.regress = "nCount_RNA", model.use = "poisson"),
                 "delegated to Seurat")
  b <- seurat_scale(pbmc_small, features = feats, vars.to.regress = "nCount_RNA", model.use = "poisson")
  expect_identical(a@assays$RNA@scale.data, b@assays$RNA@scale.data)
})
