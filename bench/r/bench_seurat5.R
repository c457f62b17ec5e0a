# Seurat 5.5.1 ScaleData vs scscale::ScaleData on a Seurat 5 object (Assay5) shaped like pbmc68k
# after HVG selection: 2,000 variable features x 68,579 cells, ~10% stored, log-normalised-like
# values in the data layer. Cases: default; the RNA layers split into 3 batches (stitched, the
# default by.layer = FALSE, and by.layer = TRUE); vars.to.regress of two numeric metadata columns.
# Prints median and best wall time of REPS runs, the peak memory of one run, and the agreement of
# the stored scale.data layer(s).
#
#   bash scripts/seurat5-chroot.sh run env R_LIBS=/repo/.cache/Rlib-seurat5 Rscript bench/r/bench_seurat5.R
#   (scscale installed there by bindings/r/run-tests.sh seurat5)
# Environment: REPS (default 3), SEURAT_REG_REPS (default 1), N_GENES / N_CELLS to shrink the
# problem, SCSCALE_THREADS (default 0 = all cores).
suppressPackageStartupMessages({
  library(Matrix)
  library(SeuratObject)
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
m <- rsparsematrix(n.genes, n.cells, nnz = round(0.1 * n.genes * n.cells),
                   rand.x = function(n) log1p(exp(stats::rnorm(n, 1.0, 0.7))))
dimnames(m) <- list(paste0("gene", seq_len(n.genes)), paste0("cell", seq_len(n.cells)))
meta <- data.frame(nCount_RNA = exp(stats::rnorm(n.cells, 8, 0.5)), percent.mt = stats::runif(n.cells, 0, 10),
                   batch = sample(c("batch1", "batch2", "batch3"), n.cells, replace = TRUE), row.names = colnames(m))
obj <- suppressWarnings(CreateSeuratObject(counts = m, meta.data = meta))
LayerData(obj, layer = "data") <- m
VariableFeatures(obj) <- rownames(m)
split.obj <- obj
split.obj[["RNA"]] <- split(split.obj[["RNA"]], f = split.obj$batch)
VariableFeatures(split.obj) <- rownames(m)
rm(m)
loadavg <- function() tryCatch(paste(strsplit(readLines("/proc/loadavg"), " ")[[1]][1:3], collapse = " "), error = function(e) "?")
cat(sprintf("data: Seurat 5 object, %d x %d (Assay5, data layer a dgCMatrix, %.1f%% stored), built in %.1f s; %d cores (load average %s); %s, Seurat %s, SeuratObject %s, scscale %s\n",
            n.genes, n.cells, 10, proc.time()[["elapsed"]] - t0, parallel::detectCores(), loadavg(),
            R.version.string, packageVersion("Seurat"), packageVersion("SeuratObject"), scscale::scscale_version()))

status_kb <- function(field) {
  l <- grep(paste0("^", field, ":"), readLines("/proc/self/status"), value = TRUE)
  as.numeric(gsub("[^0-9]", "", l))
}
# Peak resident memory of one call above the resident size before it (VmHWM reset through
# /proc/self/clear_refs) and R's own peak heap growth (gc "max used").
measure <- function(f) {
  g0 <- gc(reset = TRUE, full = TRUE)
  try(writeLines("5", "/proc/self/clear_refs"), silent = TRUE)
  rss0 <- status_kb("VmRSS")
  t <- system.time(res <- f())[["elapsed"]]
  peak <- status_kb("VmHWM")
  g <- gc(full = TRUE)
  list(time = t, rss = (peak - rss0) / 1024, heap = sum(g[, 6]) - sum(g0[, 2]), res = res)
}
# What each call stores: the scale.data layer(s) of the RNA assay.
scaled <- function(o) {
  l <- grep("^scale[.]data", Layers(o[["RNA"]]), value = TRUE)
  lapply(stats::setNames(l, l), function(x) LayerData(o, layer = x))
}

# Times f() (the ScaleData call alone); the stored layers of the first run are read after.
run <- function(label, f, n) {
  first <- measure(f)
  times <- first$time
  res <- scaled(first$res)
  first$res <- NULL
  for (k in seq_len(n - 1)) {
    times <- c(times, system.time(r <- f())[["elapsed"]])
    rm(r)
  }
  cat(sprintf("  %-22s %s s  (runs: %s)\n", label, format(stats::median(times), digits = 3), paste(format(times, digits = 3), collapse = ", ")))
  list(median = stats::median(times), min = min(times), n = n, rss = first$rss, heap = first$heap, res = res)
}
cases <- list(
  list(name = "default", o = obj, args = list(), seurat.n = reps, exact = TRUE),
  list(name = "split layers (3), stitched", o = split.obj, args = list(), seurat.n = reps, exact = TRUE),
  list(name = "split layers (3), by.layer", o = split.obj, args = list(by.layer = TRUE), seurat.n = reps, exact = TRUE),
  list(name = "vars.to.regress (2 numeric)", o = obj, args = list(vars.to.regress = c("nCount_RNA", "percent.mt")),
       seurat.n = seurat.reg.reps, exact = FALSE)
)
# The call names the object (not do.call with the object inlined): LogSeuratCommand deparses the
# call, and deparsing an inlined 68k-cell object takes minutes.
call_with <- function(fun, o, args) {
  eval(as.call(c(list(fun, quote(o), verbose = FALSE), args)))
}
rows <- list()
for (cs in cases) {
  cat(cs$name, "\n")
  s <- run("Seurat::ScaleData", function() suppressMessages(call_with(quote(Seurat::ScaleData), cs$o, cs$args)), cs$seurat.n)
  o <- run("scscale::ScaleData", function() suppressMessages(call_with(quote(scscale::ScaleData), cs$o, cs$args)), reps)
  agree <- if (cs$exact) {
    if (identical(s$res, o$res)) "identical()" else "DIFFERENT"
  } else {
    sprintf("max |diff| %.1e", max(abs(s$res[[1]] - o$res[[1]])))
  }
  s$res <- NULL; o$res <- NULL
  invisible(gc())
  rows[[length(rows) + 1]] <- data.frame(
    case = cs$name,
    seurat_s = sprintf("%.2f (n=%d, best %.2f)", s$median, s$n, s$min),
    scscale_s = sprintf("%.3f (n=%d, best %.3f)", o$median, o$n, o$min),
    speedup = sprintf("%.0fx", s$median / o$median),
    seurat_peak_MB = sprintf("%.0f / %.0f", s$rss, s$heap), scscale_peak_MB = sprintf("%.0f / %.0f", o$rss, o$heap),
    result = agree, check.names = FALSE)
}
tab <- do.call(rbind, rows)
cat("\nMedian wall time in seconds (n = runs, best run); peak memory of one run in MB as\n",
    "'resident-set growth / R heap growth' (the result itself is ",
    sprintf("%.0f MB", 8 * n.genes * n.cells / 2^20), ").\n\n", sep = "")
print(tab, row.names = FALSE, right = FALSE)
cat("\nload average at the end:", loadavg(), "\n")
