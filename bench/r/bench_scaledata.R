# Seurat 4.3 ScaleData vs scscale::ScaleData on synthetic data shaped like pbmc68k after HVG
# selection: a 2,000 x 68,579 dgCMatrix with ~10% stored, log-normalised-like values.
# Cases: default, split.by with 3 groups, vars.to.regress of two numeric covariates.
# Prints median wall time of REPS runs, the peak memory of one run, and the agreement.
#
#   Rscript bench/r/bench_scaledata.R            (scscale installed in .cache/Rlib-host by run-tests.sh)
# Environment: REPS (default 3), SEURAT_REG_REPS (default 1: Seurat's regression takes ~2 min),
# N_GENES / N_CELLS to shrink the problem, options(scscale.threads) via SCSCALE_THREADS.
lib <- file.path(normalizePath("."), ".cache", "Rlib-host")
if (dir.exists(lib)) .libPaths(c(lib, .libPaths()))
suppressPackageStartupMessages({
  library(Matrix)
})
stopifnot(requireNamespace("scscale"), requireNamespace("Seurat"))

env_int <- function(name, default) as.integer(Sys.getenv(name, as.character(default)))
reps <- env_int("REPS", 3)
seurat.reg.reps <- env_int("SEURAT_REG_REPS", 1)
n.genes <- env_int("N_GENES", 2000)
n.cells <- env_int("N_CELLS", 68579)
options(scscale.threads = env_int("SCSCALE_THREADS", 0))

set.seed(42)
t0 <- proc.time()[["elapsed"]]
nnz <- round(0.1 * n.genes * n.cells)
m <- rsparsematrix(n.genes, n.cells, nnz = nnz,
                   rand.x = function(n) log1p(exp(stats::rnorm(n, 1.0, 0.7))))
dimnames(m) <- list(paste0("gene", seq_len(n.genes)), paste0("cell", seq_len(n.cells)))
latent <- data.frame(nCount_RNA = exp(stats::rnorm(n.cells, 8, 0.5)),
                     percent.mt = stats::runif(n.cells, 0, 10), row.names = colnames(m))
groups <- factor(sample(c("batch1", "batch2", "batch3"), n.cells, replace = TRUE))
loadavg <- function() tryCatch(paste(strsplit(readLines("/proc/loadavg"), " ")[[1]][1:3], collapse = " "), error = function(e) "?")
cat(sprintf("data: %d x %d dgCMatrix, %d stored (%.1f%%), built in %.1f s; %d cores (load average %s); R %s, Seurat %s, scscale %s\n",
            n.genes, n.cells, length(m@x), 100 * length(m@x) / (n.genes * n.cells),
            proc.time()[["elapsed"]] - t0, parallel::detectCores(), loadavg(), getRversion(),
            packageVersion("Seurat"), scscale::scscale_version()))

# Peak resident memory of one call above the resident size before it (Linux: VmHWM is reset
# through /proc/self/clear_refs), and R's own peak heap use (gc "max used").
status_kb <- function(field) {
  l <- grep(paste0("^", field, ":"), readLines("/proc/self/status"), value = TRUE)
  as.numeric(gsub("[^0-9]", "", l))
}
measure <- function(f) {
  g0 <- gc(reset = TRUE, full = TRUE)
  try(writeLines("5", "/proc/self/clear_refs"), silent = TRUE)
  rss0 <- status_kb("VmRSS")
  t <- system.time(res <- f())[["elapsed"]]
  peak <- status_kb("VmHWM")
  g <- gc(full = TRUE)
  list(time = t, rss = (peak - rss0) / 1024, heap = sum(g[, 6]) - sum(g0[, 2]), res = res)
}

run <- function(label, f, n) {
  first <- measure(f)
  times <- first$time
  res <- first$res
  first$res <- NULL
  for (k in seq_len(n - 1)) {
    times <- c(times, system.time(r <- f())[["elapsed"]])
    rm(r)
  }
  cat(sprintf("  %-28s %s s  (runs: %s)\n", label, format(stats::median(times), digits = 3), paste(format(times, digits = 3), collapse = ", ")))
  list(median = stats::median(times), min = min(times), n = n, rss = first$rss, heap = first$heap, res = res)
}

seurat <- function(...) Seurat::ScaleData(m, verbose = FALSE, ...)
ours <- function(...) scscale::ScaleData(m, verbose = FALSE, ...)

cases <- list(
  list(name = "default", args = list(), seurat.n = reps, exact = TRUE),
  list(name = "split.by (3 groups)", args = list(split.by = groups), seurat.n = reps, exact = TRUE),
  list(name = "vars.to.regress (2 numeric)", args = list(vars.to.regress = c("nCount_RNA", "percent.mt"), latent.data = latent),
       seurat.n = seurat.reg.reps, exact = FALSE)
)

# The floor: R's own price for a fresh dense matrix of the result's size, filled once (one
# thread). Every tool that returns a new result pays for its pages in some form.
cat("floor\n")
floor <- run("matrix(1, genes, cells)", function() matrix(1, n.genes, n.cells), reps)
floor$res <- NULL
invisible(gc())

rows <- list()
for (cs in cases) {
  cat(cs$name, "\n")
  s <- run("Seurat::ScaleData", function() do.call(seurat, cs$args), cs$seurat.n)
  if (cs$name == "default") seurat.default <- s$median
  o <- run("scscale::ScaleData", function() do.call(ours, cs$args), reps)
  old <- options(scscale.threads = 1L)
  o1 <- run("scscale::ScaleData, 1 thread", function() do.call(ours, cs$args), reps)
  options(old)
  o1$res <- NULL
  agree <- if (cs$exact) {
    if (identical(s$res, o$res)) "identical()" else "DIFFERENT"
  } else {
    sprintf("max |diff| %.1e", max(abs(s$res - o$res)))
  }
  s$res <- NULL; o$res <- NULL
  invisible(gc())
  rows[[length(rows) + 1]] <- data.frame(
    case = cs$name,
    seurat_s = sprintf("%.2f (n=%d)", s$median, s$n), scscale_s = sprintf("%.3f (n=%d, min %.3f)", o$median, o$n, o$min),
    speedup = sprintf("%.0fx", s$median / o$median), scscale_vs_floor = sprintf("%.2fx", o$median / floor$median),
    scscale_1thread_s = sprintf("%.3f (min %.3f)", o1$median, o1$min), speedup_1thread = sprintf("%.0fx", s$median / o1$median),
    seurat_peak_MB = sprintf("%.0f / %.0f", s$rss, s$heap), scscale_peak_MB = sprintf("%.0f / %.0f", o$rss, o$heap),
    result = agree, check.names = FALSE)
}
tab <- do.call(rbind, rows)
cat("\nMedian wall time in seconds (n = runs); peak memory of one run in MB as\n",
    "'resident-set growth / R heap growth' (the result itself is ",
    sprintf("%.0f MB", 8 * n.genes * n.cells / 2^20), ").\n\n", sep = "")
print(tab, row.names = FALSE, right = FALSE)
cat(sprintf("\nfloor: matrix(1, %d, %d) (R's own fresh matrix, one thread) median %.3f s (min %.3f); Seurat's default takes %s that.\n",
            n.genes, n.cells, floor$median, floor$min,
            if (floor$median > 0) sprintf("%.1fx", seurat.default / floor$median) else "(too small to time)"))
cat("\nload average at the end:", loadavg(), "\n")
