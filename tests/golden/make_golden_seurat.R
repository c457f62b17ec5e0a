# Regenerates the Seurat golden files under tests/golden/seurat from the real Seurat
# (Debian's r-cran-seurat 4.3.0):   Rscript tests/golden/make_golden_seurat.R
#
# A dgCMatrix genes x cells is a CSR cells x genes matrix: p -> indptr, i -> indices, x -> data.
# Seurat's result (genes x cells, column-major) is a row-major cells x genes output.

suppressPackageStartupMessages({
  library(Matrix)
  library(Seurat)
})

args <- commandArgs(trailingOnly = FALSE)
here <- dirname(normalizePath(sub("^--file=", "", args[grep("^--file=", args)])))
inputs <- file.path(here, "inputs")
out_root <- file.path(here, "seurat")
unlink(out_root, recursive = TRUE)

write_bin <- function(v, path, what = "double", size = 8) {
  con <- file(path, "wb")
  on.exit(close(con))
  writeBin(if (what == "integer") as.integer(v) else as.double(v), con, size = size, endian = "little")
}

json <- function(fields) {
  enc <- function(v) {
    if (is.null(v)) "null"
    else if (is.logical(v)) tolower(as.character(v))
    else if (is.character(v)) paste0("\"", v, "\"")
    else format(v, scientific = FALSE)
  }
  paste0("{\n", paste0(" \"", names(fields), "\": ", vapply(fields, enc, ""), collapse = ",\n"), "\n}\n")
}

write_input <- function(name, m, note) {
  d <- file.path(inputs, name)
  dir.create(d, recursive = TRUE, showWarnings = FALSE)
  write_bin(m@p, file.path(d, "indptr.bin"), "integer", 4)
  write_bin(m@i, file.path(d, "indices.bin"), "integer", 4)
  write_bin(m@x, file.path(d, "data.bin"))
  writeLines(json(list(note = note, layout = "csr", n_rows = ncol(m), n_cols = nrow(m),
                       index_type = "int32", value_type = "float64")),
             file.path(d, "meta.json"), sep = "")
}

n_cases <- 0
run_case <- function(input, m, case, features = NULL, split.by = NULL,
                     do.center = TRUE, do.scale = TRUE, scale.max = 10) {
  res <- ScaleData(m, features = features, split.by = split.by, do.center = do.center,
                   do.scale = do.scale, scale.max = scale.max, verbose = FALSE)
  d <- file.path(out_root, paste0(input, "__", case))
  dir.create(d, recursive = TRUE, showWarnings = FALSE)
  kept <- intersect(features %||% rownames(m), rownames(m))
  stopifnot(identical(rownames(res), kept), identical(colnames(res), colnames(m)))
  write_bin(as.vector(res), file.path(d, "out.bin"))
  fields <- list(tool = paste("Seurat", packageVersion("Seurat")), input = input, kind = "csr_dense",
                 flavor = "seurat", center = do.center, scale = do.scale,
                 max_value = if (is.infinite(scale.max)) (if (scale.max > 0) "inf" else "-inf") else format(scale.max),
                 out_type = "float64", out_len = length(res), n_out = length(kept))
  if (!is.null(split.by)) {
    f <- factor(split.by)
    labels <- ifelse(is.na(f), -1L, as.integer(f) - 1L)
    write_bin(labels, file.path(d, "groups.bin"), "integer", 4)
    fields$n_groups <- nlevels(f)
  }
  if (!is.null(features)) {
    map <- match(rownames(m), kept) - 1
    map[is.na(map)] <- -1
    # int64 little-endian, written as (low, high) 32-bit halves
    con <- file(file.path(d, "column_map.bin"), "wb")
    for (v in map) writeBin(c(as.integer(v), if (v < 0) -1L else 0L), con, size = 4, endian = "little")
    close(con)
  }
  writeLines(json(fields), file.path(d, "meta.json"), sep = "")
  n_cases <<- n_cases + 1
}

# --- pbmc_small (SeuratObject): the log-normalised data slot, 230 genes x 80 cells.
pbmc <- GetAssayData(pbmc_small, slot = "data")
write_input("pbmc_small_data", pbmc, "SeuratObject pbmc_small data slot (230 genes x 80 cells, dgCMatrix)")
run_case("pbmc_small_data", pbmc, "default")
run_case("pbmc_small_data", pbmc, "nocenter", do.center = FALSE)
run_case("pbmc_small_data", pbmc, "noscale", do.scale = FALSE)
run_case("pbmc_small_data", pbmc, "nocenter_noscale", do.center = FALSE, do.scale = FALSE)
run_case("pbmc_small_data", pbmc, "max2", scale.max = 2)
run_case("pbmc_small_data", pbmc, "max-1", scale.max = -1)
run_case("pbmc_small_data", pbmc, "maxInf", scale.max = Inf)
groups <- as.character(pbmc_small$groups)
groups[c(3, 17, 40)] <- NA
run_case("pbmc_small_data", pbmc, "split_groups_na", split.by = groups)
genes <- rownames(pbmc)
run_case("pbmc_small_data", pbmc, "features_reordered_dup_unknown",
         features = c(rev(genes[1:60]), genes[10], "NOT_A_GENE", genes[200]))
run_case("pbmc_small_data", pbmc, "features_split",
         features = genes[seq(230, 1, by = -3)], split.by = groups)

# --- Random sparse matrices with the hard cases.
set.seed(20261126)
n_genes <- 40; n_cells <- 25
dense <- matrix(0, n_genes, n_cells)
nz <- matrix(runif(n_genes * n_cells) < 0.3, n_genes)
dense[nz] <- log1p(rgamma(sum(nz), 2, 0.5))
dense[1, ] <- 0              # all-zero gene
dense[2, ] <- 2.5            # constant gene
dense[3, ] <- 0.1            # near-constant (sum/n is not 0.1)
dense[4, nz[4, ]] <- -dense[4, nz[4, ]]  # negative values
dense[5, 7] <- 1e-300        # a tiny value among others
dense[7, ] <- 0; dense[7, 3] <- 1e-300  # ss underflows to 0: -Inf survives in zero cells
rownames(dense) <- paste0("g", seq_len(n_genes))
colnames(dense) <- paste0("c", seq_len(n_cells))
rnd <- as(dense, "dgCMatrix")
# Explicit stored zeros: add zero entries in gene 6 for every third cell.
trip0 <- as(rnd, "TsparseMatrix")
extra <- which(dense[6, ] == 0)[c(TRUE, FALSE, FALSE)]
rnd0 <- new("dgCMatrix", Dim = rnd@Dim, Dimnames = rnd@Dimnames,
            p = rnd@p, i = rnd@i, x = rnd@x)
trip <- data.frame(i = c(trip0@i, rep(5L, length(extra))), j = c(trip0@j, extra - 1L), x = c(trip0@x, rep(0, length(extra))))
trip <- trip[order(trip$j, trip$i), ]
rnd0@i <- as.integer(trip$i)
rnd0@x <- trip$x
rnd0@p <- as.integer(c(0, cumsum(tabulate(trip$j + 1L, n_cells))))
stopifnot(validObject(rnd0), length(rnd0@x) == length(rnd@x) + length(extra))
write_input("random_hard", rnd0, "40 genes x 25 cells: all-zero, constant, near-constant, negative, 1e-300, explicit zeros")
run_case("random_hard", rnd0, "default")
run_case("random_hard", rnd0, "max2", scale.max = 2)
run_case("random_hard", rnd0, "max-1", scale.max = -1)
run_case("random_hard", rnd0, "maxInf", scale.max = Inf)
run_case("random_hard", rnd0, "nocenter", do.center = FALSE)
run_case("random_hard", rnd0, "noscale", do.scale = FALSE)
split3 <- rep(c("b", "a", "c", NA, "a"), length.out = n_cells)
run_case("random_hard", rnd0, "split_na", split.by = split3)
one <- rnd0[, 1, drop = FALSE]
write_input("random_one_cell", one, "random_hard's first cell only")
run_case("random_one_cell", one, "default")
two <- rnd0[, 1:2, drop = FALSE]
write_input("random_two_cells", two, "random_hard's first two cells")
run_case("random_two_cells", two, "default")

cat("wrote", n_cases, "Seurat cases\n")
