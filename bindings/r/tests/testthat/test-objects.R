# Bad input on Seurat objects (v3 Assay; both Seurat 4 and 5): the same R error as Seurat's.

err <- function(expr) tryCatch({ suppressMessages(suppressWarnings(expr)); "no error" }, error = conditionMessage)

test_that("unknown split.by column, unknown assay: Seurat's error", {
  pbmc <- fresh_pbmc()
  for (args in list(list(split.by = "nope"), list(assay = "nope"))) {
    m.ours <- err(do.call(ours, c(list(pbmc), args)))
    expect_false(identical(m.ours, "no error"))
    expect_identical(m.ours, err(do.call(seurat_scale, c(list(pbmc), args))))
  }
})

test_that("no known feature: the same outcome as Seurat", {
  pbmc <- fresh_pbmc()
  a <- err(ours(pbmc, features = c("nope", "nada")))
  b <- err(seurat_scale(pbmc, features = c("nope", "nada")))
  expect_identical(a, b)
  if (identical(a, "no error")) {
    expect_identical(ours(pbmc, features = c("nope", "nada"))@assays, seurat_scale(pbmc, features = c("nope", "nada"))@assays)
  }
})
