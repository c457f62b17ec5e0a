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

expect_same_command <- function(a, b) {
  testthat::expect_identical(names(a@commands), names(b@commands))
  testthat::expect_length(a@commands, 1)
  ca <- a@commands[[1]]; cb <- b@commands[[1]]
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
