# Reference: the installed Seurat 4.3 through its own generic and S3 dispatch. The call is made
# from an environment under the global one: from the test environment (a child of scscale's
# namespace) S3 lookup would find scscale's methods first. Both sides are called as
# `ScaleData(object, ...)` so that LogSeuratCommand and Seurat's Parenting see the same calls.
run_scale <- function(fun, object, ...) {
  args <- list(...)
  env <- new.env(parent = globalenv())
  env$ScaleData <- fun
  env$object <- object
  env$args <- args
  arg.calls <- lapply(seq_along(args), function(i) call("[[", as.name("args"), i))
  names(arg.calls) <- names(args)
  cl <- as.call(c(list(as.name("ScaleData"), as.name("object")), arg.calls, list(verbose = FALSE)))
  eval(cl, env)
}
seurat_scale <- function(object, ...) suppressWarnings(run_scale(Seurat::ScaleData, object, ...))
ours <- function(object, ...) run_scale(scscale::ScaleData, object, ...)

# pbmc_small without its stored scale.data and command log, so comparisons are not vacuous.
fresh_pbmc <- function() {
  e <- new.env()
  utils::data("pbmc_small", package = "SeuratObject", envir = e)
  obj <- e$pbmc_small
  obj@commands <- list()
  obj@assays$RNA@scale.data <- matrix(numeric(0), 0, 0)
  obj
}

# The logged ScaleData command (the last one; objects made by Seurat 5 also log NormalizeData...).
expect_same_command <- function(a, b) {
  testthat::expect_identical(names(a@commands), names(b@commands))
  n <- length(a@commands)
  testthat::expect_match(names(a@commands)[n], "^ScaleData")
  ca <- a@commands[[n]]; cb <- b@commands[[n]]
  for (s in c("name", "params", "call.string", "assay.used")) {
    testthat::expect_identical(methods::slot(ca, s), methods::slot(cb, s))
  }
}

# A genes x cells dgCMatrix with the awkward genes: constant, all-zero, near-constant (0.1),
# negative values, one tiny value (variance underflow -> -Inf), explicit stored zeros.
awkward_matrix <- function(n.genes = 60, n.cells = 90, density = 0.15, seed = 1) {
  set.seed(seed)
  m <- Matrix::rsparsematrix(n.genes, n.cells, density)
  m@x <- round(m@x * 2, 4)
  m <- methods::as(m, "dgCMatrix")
  m[1, ] <- 2.5                     # constant
  m[2, ] <- 0                       # all zero
  m[3, ] <- 0.1                     # near-constant: sd ~ 1e-17
  m[4, ] <- 0
  m[4, 5] <- 1e-300                 # ss underflows -> -Inf in Seurat
  m[5, ] <- -abs(m[5, ]) - 1        # all negative, dense
  m <- Matrix::drop0(m)
  stored <- which(m@x != 0 & m@i >= 5)
  m@x[sample(stored, 25)] <- 0      # explicit zeros (kept stored)
  dimnames(m) <- list(paste0("gene", seq_len(n.genes)), paste0("cell", seq_len(n.cells)))
  m
}

# Log-normalised-like counts for regression tests: no constant genes.
lognorm_matrix <- function(n.genes = 40, n.cells = 120, seed = 2) {
  set.seed(seed)
  counts <- matrix(stats::rpois(n.genes * n.cells, lambda = stats::runif(n.genes, 0.3, 4)), n.genes, n.cells)
  m <- methods::as(Matrix::Matrix(log1p(counts), sparse = TRUE), "generalMatrix")
  dimnames(m) <- list(paste0("g", seq_len(n.genes)), paste0("c", seq_len(n.cells)))
  m
}

# Seurat 5 objects (Assay5 layers) exist with SeuratObject >= 5 only (the sid chroot).
skip_unless_seurat5 <- function() {
  testthat::skip_if(utils::packageVersion("SeuratObject") < "5.0.0", "needs SeuratObject 5 (Assay5 layers)")
  testthat::skip_if(utils::packageVersion("Seurat") < "5.0.0", "needs Seurat 5")
}

# A Seurat 5 object (Assay5) from pbmc_small's counts: normalised, 60 variable features, with
# pbmc_small's metadata (groups g1/g2 interleaved, letter.idents).
v5_pbmc <- function() {
  e <- new.env()
  utils::data("pbmc_small", package = "SeuratObject", envir = e)
  counts <- SeuratObject::LayerData(e$pbmc_small, layer = "counts")
  obj <- SeuratObject::CreateSeuratObject(counts = counts, meta.data = e$pbmc_small[[]][, c("groups", "letter.idents")])
  obj <- Seurat::NormalizeData(obj, verbose = FALSE)
  suppressWarnings(Seurat::FindVariableFeatures(obj, nfeatures = 60, verbose = FALSE))
}

# The same, with its RNA layers split by `groups` (counts.g1, counts.g2, data.g1, data.g2) and the
# variable features found per layer (Seurat 5's consensus).
v5_split <- function() {
  obj <- v5_pbmc()
  obj[["RNA"]] <- split(obj[["RNA"]], f = obj$groups)
  suppressWarnings(Seurat::FindVariableFeatures(obj, nfeatures = 60, verbose = FALSE))
}

# An assay's data under either SeuratObject API (GetAssayData(slot =) is defunct in 5.x).
assay_layer <- function(object, name) {
  if (utils::packageVersion("SeuratObject") >= "5.0.0") SeuratObject::LayerData(object, layer = name)
  else SeuratObject::GetAssayData(object, slot = name)
}
