# activate() / deactivate(): Seurat's own ScaleData runs scscale's methods, whatever the order of
# library() calls, and Seurat's come back afterwards.

seurat_ns_method <- function(cls) get(paste0("ScaleData.", cls), envir = asNamespace("Seurat"))
s3_table_method <- function(cls) get(paste0("ScaleData.", cls), envir = get(".__S3MethodsTable__.", envir = asNamespace("Seurat")))

test_that("activate() switches Seurat's methods (namespace and S3 table), deactivate() restores them", {
  original <- seurat_ns_method("Seurat")
  on.exit(scscale::deactivate(), add = TRUE)
  expect_false(scscale::is_active())
  expect_true(scscale::activate())
  expect_false(scscale::activate())                     # idempotent
  expect_true(scscale::is_active())
  for (cls in c("Seurat", "Assay", "default")) {
    expect_identical(seurat_ns_method(cls), get(paste0("ScaleData.", cls), envir = asNamespace("scscale")))
    expect_identical(s3_table_method(cls), seurat_ns_method(cls))
  }
  expect_true(scscale::deactivate())
  expect_false(scscale::deactivate())
  expect_identical(seurat_ns_method("Seurat"), original)
  expect_identical(s3_table_method("Seurat"), original)
})

test_that("after activate(), Seurat::ScaleData stores the same result, computed by scscale", {
  pbmc <- fresh_pbmc()
  pbmc$grp <- pbmc$groups
  before <- seurat_scale(pbmc, split.by = "grp")
  on.exit(scscale::deactivate(), add = TRUE)
  scscale::activate()
  after <- seurat_scale(pbmc, split.by = "grp")
  expect_identical(after@assays, before@assays)
  expect_same_command(after, before)
  # The proof that scscale ran: an option only scscale reads makes the call fail.
  old <- options(scscale.threads = -1)
  on.exit(options(old), add = TRUE)
  expect_error(seurat_scale(pbmc), "scscale.threads")
  # Seurat's own code calling the generic inside its namespace reaches scscale too: Seurat's
  # original ScaleData.Seurat calls ScaleData(<Assay>), which must now be scscale's.
  seurat.original <- scscale:::.state$originals[["ScaleData.Seurat"]]
  expect_false(identical(seurat.original, seurat_ns_method("Seurat")))
  expect_error(seurat.original(pbmc, verbose = FALSE), "scscale.threads")
  options(old)
  # Delegated cases use Seurat's saved originals (no recursion into scscale's replacement).
  feats <- SeuratObject::VariableFeatures(pbmc)[1:3]
  expect_message(d <- Seurat::ScaleData(pbmc, features = feats, vars.to.regress = "nCount_RNA",
                                        model.use = "poisson", verbose = FALSE), "delegated")
  scscale::deactivate()
  ref <- Seurat::ScaleData(pbmc, features = feats, vars.to.regress = "nCount_RNA", model.use = "poisson", verbose = FALSE)
  expect_identical(d@assays, ref@assays)
})

test_that("after activate(), Seurat::ScaleData on a Seurat 5 object (Assay5, split layers)", {
  skip_unless_seurat5()
  obj <- v5_split()
  before <- suppressMessages(seurat_scale(obj, by.layer = TRUE))
  before2 <- suppressMessages(seurat_scale(obj))
  on.exit(scscale::deactivate(), add = TRUE)
  scscale::activate()
  expect_identical(seurat_ns_method("StdAssay"), get("ScaleData.StdAssay", envir = asNamespace("scscale")))
  after <- suppressMessages(seurat_scale(obj, by.layer = TRUE))
  expect_identical(after[["RNA"]], before[["RNA"]])
  expect_identical(suppressMessages(seurat_scale(obj))[["RNA"]], before2[["RNA"]])
  old <- options(scscale.threads = -1)
  on.exit(options(old), add = TRUE)
  expect_error(suppressMessages(seurat_scale(obj)), "scscale.threads")
})
