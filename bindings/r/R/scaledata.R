#' Scale and center features, as Seurat's ScaleData but faster
#'
#' A drop-in replacement for \code{Seurat::ScaleData} (Seurat 4.3): same arguments, same defaults,
#' same result and same place of storage. For a \code{dgCMatrix} without regression the result is
#' bit-identical to Seurat's (\code{FastSparseRowScale}), including \code{split.by} (cells whose
#' group is \code{NA} get 0), feature subsets, the NaN -> 0 rule and explicit stored zeros.
#'
#' \describe{
#'   \item{\code{vars.to.regress}, \code{model.use = "linear"}}{Every gene is regressed on the
#'     design (intercept plus \code{model.matrix} dummies of the \code{latent.data} columns) with
#'     one QR of the design per split group (R's LINPACK \code{qr}, as \code{lm}), then the
#'     residuals are scaled like Seurat's \code{FastRowScale}. The z-scores agree with Seurat to
#'     about 1e-12 (not bitwise: Seurat uses \code{qr.resid} per gene and long double variances).
#'     Genes that the design explains exactly (constant genes, a gene used as a regressor) have
#'     residuals that are pure rounding noise; their z-scores are arbitrary in Seurat and here.}
#'   \item{\code{split.by} with regression}{Computed correctly: each cell keeps its own residual.
#'     Seurat 4.3 (and 5.x) relabels the cells after regressing per split (the residual blocks are
#'     bound in group order but named in the original order; satijalab/seurat PR #10470), so
#'     its results differ from ours whenever the groups are interleaved. Seurat also fails when a
#'     cell's group is \code{NA} together with regression; here such cells get 0.}
#'   \item{\code{model.use = "poisson"} or \code{"negbinom"}}{Delegated to Seurat's own
#'     \code{ScaleData} (with a message); Seurat must be installed.}
#'   \item{Dense \code{matrix} input}{Bit-identical to Seurat's dense scaler (\code{FastRowScale},
#'     whose variance sums in long double) through a C routine. With regression it is converted
#'     to a \code{dgCMatrix}; a non-double (integer) matrix is delegated to Seurat.}
#' }
#'
#' \code{block.size} and \code{min.cells.to.block} are accepted and have no effect (blocks do not
#' change the numbers). The number of threads is \code{getOption("scscale.threads", 0)}
#' (0 = all cores); \code{options(scscale.hugepages = TRUE)} asks for transparent huge pages for
#' the result (off by default). A long call can be interrupted with Ctrl-C.
#'
#' @param object A \code{dgCMatrix} or \code{matrix} (genes x cells, with dimnames), an
#'   \code{Assay} or a \code{Seurat} object.
#' @param features Features to scale (default: all rows; for an Assay or Seurat object the
#'   variable features, else all).
#' @param vars.to.regress Variables to regress out (metadata columns or features).
#' @param latent.data A data.frame of the variables to regress, one row per cell.
#' @param split.by A vector (one value per cell), data.frame or, for a Seurat object, a metadata
#'   column name: scale each group separately.
#' @param model.use \code{"linear"}, \code{"poisson"} or \code{"negbinom"}.
#' @param use.umi Regress on UMI counts (the \code{counts} slot); forced for non-linear models.
#' @param do.scale Divide by the standard deviation.
#' @param do.center Subtract the mean.
#' @param scale.max Clip z-scores above this value.
#' @param block.size,min.cells.to.block Accepted for compatibility; no effect.
#' @param verbose Print messages.
#' @param assay Assay of a Seurat object (default: the default assay).
#' @param ... Passed on (unused arguments give a warning, as in Seurat).
#' @return For a matrix: a dense double matrix features x cells. For an Assay or Seurat object:
#'   the object with the result in the \code{scale.data} slot, rows in the assay's feature order.
#' @export
ScaleData <- function(object, ...) {
  UseMethod(generic = "ScaleData", object = object)
}

`%||%` <- function(a, b) if (is.null(a)) b else a

check_dots <- function(...) {
  dots <- list(...)
  if (length(dots) > 0) {
    nm <- names(dots) %||% rep("", length(dots))
    warning("The following arguments are not used: ", paste(nm, collapse = ", "), call. = FALSE)
  }
}

check_model <- function(model.use) {
  possible <- c("linear", "poisson", "negbinom")
  if (!(is.character(model.use) && length(model.use) == 1 && model.use %in% possible)) {
    stop(paste(model.use, "is not a valid model. Please use one the following:", paste0(possible, collapse = ", ")), call. = FALSE)
  }
}

# Seurat's own method for `cls`. Not the generic: S3 lookup from here would find our methods.
# After activate(), Seurat's namespace holds ours, so the originals saved there are used.
seurat_fun <- function(why, cls) {
  if (!requireNamespace("Seurat", quietly = TRUE)) {
    stop(why, " needs Seurat, which is not installed", call. = FALSE)
  }
  message("scscale: ", why, " is delegated to Seurat's own ScaleData")
  seurat_method(cls)
}

seurat_method <- function(cls) {
  name <- paste0("ScaleData.", cls)
  .state$originals[[name]] %||% get(name, envir = asNamespace("Seurat"))
}

# SeuratObject >= 5 (layers; GetAssayData(slot =) is defunct there).
so5 <- function() utils::packageVersion("SeuratObject") >= "4.9.0"

# A SeuratObject 5 function, looked up when called (they do not exist in SeuratObject 4).
so_fun <- function(name) getExportedValue("SeuratObject", name)

# An assay's counts / data / scale.data, under either SeuratObject API.
assay_data <- function(object, layer) {
  if (so5()) SeuratObject::GetAssayData(object, layer = layer) else SeuratObject::GetAssayData(object, slot = layer)
}

# Seurat's FastRowScale takes row means with matrixStats::rowMeans2, whose default became the
# two-pass mean (refine = TRUE) in matrixStats 1.0.0: the dense path follows the installed one.
refine_means <- function() {
  if (!requireNamespace("matrixStats", quietly = TRUE)) return(FALSE)
  isTRUE(formals(matrixStats::rowMeans2)$refine)
}


threads <- function() {
  n <- getOption("scscale.threads", 0L)
  if (!is.numeric(n) || length(n) != 1 || is.na(n) || n < 0) stop("options(scscale.threads) must be a number >= 0", call. = FALSE)
  as.integer(n)
}

#' @rdname ScaleData
#' @export
ScaleData.default <- function(object, features = NULL, vars.to.regress = NULL, latent.data = NULL,
                              split.by = NULL, model.use = "linear", use.umi = FALSE, do.scale = TRUE,
                              do.center = TRUE, scale.max = 10, block.size = 1000,
                              min.cells.to.block = 3000, verbose = TRUE, ...) {
  check_dots(...)
  scale_default(object, features = features, vars.to.regress = vars.to.regress, latent.data = latent.data,
                split.by = split.by, model.use = model.use, use.umi = use.umi, do.scale = do.scale,
                do.center = do.center, scale.max = scale.max, block.size = block.size,
                min.cells.to.block = min.cells.to.block, verbose = verbose)
}

# ScaleData.default's work. `row.order` (the assay's features, for Seurat 5 objects) asks for the
# result's rows in that order instead of the order of `features`: the same rows and values, laid
# out as LayerData<- would reorder them, so store_layer() need not copy the result again.
scale_default <- function(object, features, vars.to.regress, latent.data, split.by, model.use, use.umi,
                          do.scale, do.center, scale.max, block.size, min.cells.to.block, verbose,
                          row.order = NULL) {
  check_model(model.use)
  args <- list(features = features, vars.to.regress = vars.to.regress, latent.data = latent.data,
               split.by = split.by, model.use = model.use, use.umi = use.umi, do.scale = do.scale,
               do.center = do.center, scale.max = scale.max, block.size = block.size,
               min.cells.to.block = min.cells.to.block, verbose = verbose)
  if (model.use != "linear") {
    return(do.call(seurat_fun(paste0("model.use = \"", model.use, "\""), "default"), c(list(object = object), args)))
  }
  dense.ok <- is.matrix(object) && is.double(object) && is.null(vars.to.regress)
  if (!inherits(object, "dgCMatrix") && !dense.ok) {
    if (is.matrix(object) && is.null(vars.to.regress)) {
      return(do.call(seurat_fun("a non-double dense matrix", "default"), c(list(object = object), args)))
    }
    object <- methods::as(object, "CsparseMatrix")
    if (!inherits(object, "dgCMatrix")) object <- methods::as(object, "generalMatrix")
    if (!inherits(object, "dgCMatrix")) object <- methods::as(object, "dMatrix")
  }
  out.features <- NULL
  if (!is.null(row.order) && !is.null(rownames(object))) {
    used <- as.vector(intersect(features %||% rownames(object), rownames(object)))
    if (all(used %in% row.order)) out.features <- row.order[row.order %in% used]
  }
  res <- scale_sparse(object, features = features, vars.to.regress = vars.to.regress,
                      latent.data = latent.data, split.by = split.by, use.umi = use.umi,
                      do.scale = do.scale, do.center = do.center, scale.max = scale.max,
                      verbose = verbose, out.features = out.features)
  res$scaled
}

# Group labels as split() forms them: factor levels in order, NA = no group (-1).
split_groups <- function(split.by, n) {
  split.by <- split.by %||% TRUE
  f <- if (is.list(split.by)) interaction(split.by, drop = FALSE, sep = ".", lex.order = FALSE) else as.factor(split.by)
  if (length(f) != n) {
    if (length(f) == 0) stop("split.by has length 0", call. = FALSE)
    if (n %% length(f) != 0) warning("data length is not a multiple of split variable", call. = FALSE)
    f <- f[rep_len(seq_along(f), n)]
  }
  codes <- as.integer(f) - 1L
  codes[is.na(codes)] <- -1L
  list(codes = codes, n = nlevels(f), levels = levels(f))
}

# The R-side of the library's error: a condition with its status.
lib_error <- function(res) {
  if (is.null(res)) return(invisible(NULL))
  if (identical(res[1], "SC_STATUS_CANCELLED")) {
    stop(structure(class = c("interrupt", "condition"), list(message = res[2], call = NULL)))
  }
  stop(structure(class = c("scscale_error", "error", "condition"),
                 list(message = paste0("scscale: ", res[2], " (", res[1], ")"), call = NULL, status = res[1])))
}

# The shared engine. `features` is in output order; returns the dense result (dimnames set) and
# the features actually used.
scale_sparse <- function(object, features, vars.to.regress, latent.data, split.by, use.umi,
                         do.scale, do.center, scale.max, verbose, out.features = NULL) {
  if (is.null(rownames(object)) || is.null(colnames(object))) {
    stop("the matrix needs row names (features) and column names (cells), as Seurat's ScaleData", call. = FALSE)
  }
  for (a in list(list(do.scale, "do.scale"), list(do.center, "do.center"), list(use.umi, "use.umi"))) {
    if (!(is.logical(a[[1]]) && length(a[[1]]) == 1 && !is.na(a[[1]]))) stop(a[[2]], " must be TRUE or FALSE", call. = FALSE)
  }
  if (!(is.numeric(scale.max) && length(scale.max) == 1 && !is.na(scale.max))) stop("scale.max must be a number", call. = FALSE)
  all.features <- rownames(object)
  features <- features %||% all.features
  features <- as.vector(intersect(features, all.features))
  # Output rows: `features` order, unless the caller asks for another order of the same set.
  rows <- if (is.null(out.features)) features else out.features
  cells <- colnames(object)
  n.cells <- ncol(object)
  column.map <- rep.int(-1L, nrow(object))
  column.map[match(rows, all.features)] <- seq_along(rows) - 1L
  g <- split_groups(split.by, n.cells)
  groups <- if (g$n == 1 && all(g$codes == 0L)) NULL else g$codes
  n.groups <- max(g$n, 1L)
  if (g$n == 0) groups <- rep.int(-1L, n.cells)

  regress <- !is.null(vars.to.regress)
  if (regress) {
    design <- regression_design(object, features, cells, vars.to.regress, latent.data, verbose)
  }
  if (verbose && (do.scale || do.center)) {
    msg <- paste(c(if (do.center) "centering", if (do.scale) "scaling"), collapse = " and ")
    message(toupper(substr(msg, 1, 1)), substr(msg, 2, nchar(msg)), " data matrix")
  }
  out <- .Call(scscale_alloc_matrix, length(rows), n.cells)
  if (is.matrix(object)) {
    # Dense double matrix, no regression: Seurat's FastRowScale (the core's seurat_dense), with
    # the mean rule of the installed matrixStats.
    res <- .Call(scscale_r_scale_dense, out, object, nrow(object), n.cells, column.map, groups,
                 n.groups, c(do.center, do.scale, refine_means()), as.double(scale.max))
    lib_error(res)
    dimnames(out) <- stats::setNames(list(rows, cells), names(dimnames(object)))
    return(list(scaled = out, features = features))
  }
  x <- object@x
  if (!is.double(x)) x <- as.double(x)
  if (!regress) {
    res <- .Call(scscale_r_scale_sparse, out, object@p, object@i, x, nrow(object), column.map,
                 groups, n.groups, do.center, do.scale, as.double(scale.max), threads(),
                 isTRUE(getOption("scscale.hugepages", FALSE)))
  } else {
    res <- .Call(scscale_r_regress_scale, out, object@p, object@i, x, nrow(object), column.map,
                 groups, n.groups, design, ncol(design), c(do.center, do.scale, use.umi),
                 as.double(scale.max), threads())
  }
  lib_error(res)
  dimnames(out) <- stats::setNames(list(rows, cells), names(dimnames(object)))
  list(scaled = out, features = features)
}

# The regression's design matrix (cells x covariates) from latent.data and vars.to.regress, as
# Seurat's RegressOutMatrix builds its formula.
regression_design <- function(object, features, cells, vars.to.regress, latent.data, verbose) {
  if (is.null(latent.data)) {
    latent.data <- data.frame(row.names = cells)
  } else {
    latent.data <- latent.data[cells, , drop = FALSE]
    rownames(latent.data) <- cells
  }
  gene.vars <- vars.to.regress[vars.to.regress %in% features]
  if (length(gene.vars) > 0) {
    latent.data <- cbind(latent.data, as.matrix(Matrix::t(object[gene.vars, , drop = FALSE])))
  }
  notfound <- setdiff(vars.to.regress, colnames(latent.data))
  if (length(notfound) == length(vars.to.regress)) {
    stop("None of the requested variables to regress are present in the object.", call. = FALSE)
  } else if (length(notfound) > 0) {
    warning("Requested variables to regress not in object: ", paste(notfound, collapse = ", "),
            call. = FALSE, immediate. = TRUE)
    vars.to.regress <- colnames(latent.data)
  }
  if (verbose) message("Regressing out ", paste(vars.to.regress, collapse = ", "))
  # As RegressOutMatrix: the formula has every latent.data column.
  fmla <- stats::as.formula(paste("~", paste(colnames(latent.data), collapse = "+")))
  mf <- stats::model.frame(fmla, data = latent.data, na.action = stats::na.pass)
  if (anyNA(mf)) stop("latent.data has NA values for some cells; Seurat's regression fails on them too", call. = FALSE)
  # The design as R's model.matrix builds it (factors expanded, intercept first); the core takes
  # each split group's rows and keeps the columns R's qr() would (src/design.rs).
  X <- stats::model.matrix(attr(mf, "terms"), mf)
  storage.mode(X) <- "double"
  X
}

#' @rdname ScaleData
#' @export
ScaleData.Assay <- function(object, features = NULL, vars.to.regress = NULL, latent.data = NULL,
                            split.by = NULL, model.use = "linear", use.umi = FALSE, do.scale = TRUE,
                            do.center = TRUE, scale.max = 10, block.size = 1000,
                            min.cells.to.block = 3000, verbose = TRUE, ...) {
  scale_assay(object, features = features, vars.to.regress = vars.to.regress, latent.data = latent.data,
              split.by = split.by, model.use = model.use, use.umi = use.umi, do.scale = do.scale,
              do.center = do.center, scale.max = scale.max, block.size = block.size,
              min.cells.to.block = min.cells.to.block, verbose = verbose, ...)$object
}

# ScaleData.Assay + SetAssayData in one step: the rows come out directly in the assay's order
# (what SetAssayData would reorder them to), so the result is never copied.
scale_assay <- function(object, features, vars.to.regress, latent.data, split.by, model.use, use.umi,
                        do.scale, do.center, scale.max, block.size, min.cells.to.block, verbose, ...) {
  check_dots(...)
  check_model(model.use)
  use.umi <- if (model.use != "linear") TRUE else use.umi
  if (model.use != "linear") {
    f <- seurat_fun(paste0("model.use = \"", model.use, "\""), "Assay")
    obj <- f(object = object, features = features, vars.to.regress = vars.to.regress, latent.data = latent.data,
             split.by = split.by, model.use = model.use, use.umi = use.umi, do.scale = do.scale,
             do.center = do.center, scale.max = scale.max, block.size = block.size,
             min.cells.to.block = min.cells.to.block, verbose = verbose)
    return(list(object = obj, features = features, use.umi = use.umi))
  }
  slot.use <- if (use.umi) "counts" else "data"
  features <- features %||% SeuratObject::VariableFeatures(object)
  mat <- assay_data(object, slot.use)
  if (length(features) == 0) features <- rownames(mat)
  if (is.matrix(mat) && is.double(mat) && !is.null(vars.to.regress)) {
    mat <- methods::as(mat, "CsparseMatrix")
  }
  if (!inherits(mat, "dgCMatrix") && !(is.matrix(mat) && is.double(mat))) {
    f <- seurat_fun(paste0("a '", class(mat)[1], "' ", slot.use, " slot"), "Assay")
    obj <- f(object = object, features = features, vars.to.regress = vars.to.regress, latent.data = latent.data,
             split.by = split.by, model.use = model.use, use.umi = use.umi, do.scale = do.scale,
             do.center = do.center, scale.max = scale.max, block.size = block.size,
             min.cells.to.block = min.cells.to.block, verbose = verbose)
    return(list(object = obj, features = features, use.umi = use.umi))
  }
  used <- as.vector(intersect(features, rownames(mat)))
  assay.rows <- rownames(object)
  out.rows <- assay.rows[assay.rows %in% used]
  res <- scale_sparse(mat, features = used, vars.to.regress = vars.to.regress, latent.data = latent.data,
                      split.by = split.by, use.umi = use.umi, do.scale = do.scale, do.center = do.center,
                      scale.max = scale.max, verbose = verbose, out.features = out.rows)
  if (!identical(colnames(mat), colnames(object))) {
    # SetAssayData puts the cells in the assay's order (only differs for hand-made assays).
    res$scaled <- res$scaled[, colnames(object), drop = FALSE]
  }
  methods::slot(object, "scale.data") <- res$scaled
  list(object = object, features = used, use.umi = use.umi, min.cells.to.block = min(min.cells.to.block, ncol(mat)))
}

#' @rdname ScaleData
#' @export
ScaleData.Seurat <- function(object, features = NULL, assay = NULL, vars.to.regress = NULL,
                             split.by = NULL, model.use = "linear", use.umi = FALSE, do.scale = TRUE,
                             do.center = TRUE, scale.max = 10, block.size = 1000,
                             min.cells.to.block = 3000, verbose = TRUE, ...) {
  # As the installed Seurat: 5.x matches the name against Assays(), 4.3 asks GetAssay (their errors).
  if (so5()) {
    assay <- assay[1L] %||% SeuratObject::DefaultAssay(object)
    assay <- match.arg(assay, SeuratObject::Assays(object))
    assay.data <- object[[assay]]
  } else {
    assay <- assay %||% SeuratObject::DefaultAssay(object)
    # Seurat 4.3's GetAssay: its check and message.
    if (!(assay %in% SeuratObject::Assays(object))) {
      stop(paste0(assay, " is not an assay present in the given object. Available assays are: ",
                  paste(SeuratObject::Assays(object), collapse = ", ")), call. = FALSE)
    }
    assay.data <- object[[assay]]
  }
  meta <- colnames(object[[]])
  latent.data <- if (any(vars.to.regress %in% meta)) object[[vars.to.regress[vars.to.regress %in% meta]]] else NULL
  if (is.character(split.by) && length(split.by) == 1) split.by <- object[[split.by]]
  if (inherits(assay.data, "StdAssay")) {
    object[[assay]] <- ScaleData.StdAssay(assay.data, features = features, vars.to.regress = vars.to.regress,
                                          latent.data = latent.data, split.by = split.by, model.use = model.use,
                                          use.umi = use.umi, do.scale = do.scale, do.center = do.center,
                                          scale.max = scale.max, block.size = block.size,
                                          min.cells.to.block = min.cells.to.block, verbose = verbose, ...)
  } else {
    res <- scale_assay(assay.data, features = features, vars.to.regress = vars.to.regress,
                       latent.data = latent.data, split.by = split.by, model.use = model.use,
                       use.umi = use.umi, do.scale = do.scale, do.center = do.center,
                       scale.max = scale.max, block.size = block.size,
                       min.cells.to.block = min.cells.to.block, verbose = verbose, ...)
    object[[assay]] <- res$object
    # Seurat's ScaleData.Assay pushes these into this frame (Parenting) before the command is logged.
    features <- res$features
    use.umi <- res$use.umi
    if (!is.null(res$min.cells.to.block)) min.cells.to.block <- res$min.cells.to.block
  }
  split.by <- split.by
  object <- SeuratObject::LogSeuratCommand(object = object)
  object
}

#' @rdname ScaleData
#' @param layer For a Seurat 5 assay (\code{Assay5}): the layer(s) to scale, an exact name or a
#'   pattern as \code{SeuratObject::Layers(search =)} (after \code{split()}, \code{"data"} finds
#'   \code{data.a}, \code{data.b}, ...).
#' @param by.layer Scale each matching layer alone (saved as \code{scale.data.a}, ...) instead of
#'   the layers joined into one.
#' @param save Name of the layer the result is saved to.
#' @export
ScaleData.StdAssay <- function(object, features = NULL, layer = "data", vars.to.regress = NULL,
                               latent.data = NULL, by.layer = FALSE, split.by = NULL,
                               model.use = "linear", use.umi = FALSE, do.scale = TRUE,
                               do.center = TRUE, scale.max = 10, block.size = 1000,
                               min.cells.to.block = 3000, save = "scale.data", verbose = TRUE, ...) {
  # Seurat 5.5.1's ScaleData.StdAssay, step for step, with scscale's ScaleData.default.
  LayerData <- so_fun("LayerData")
  `LayerData<-` <- so_fun("LayerData<-")
  use.umi <- if (model.use != "linear") TRUE else use.umi
  olayer <- layer <- unique(layer)
  layer <- so_fun("Layers")(object = object, search = layer)
  if (is.null(layer)) {
    stop(paste0("No layer matching pattern '", olayer, "' found. Please run NormalizeData and retry"), call. = FALSE)
  }
  if (isTRUE(use.umi)) {
    layer <- "counts"
    message("'use.umi' is TRUE, please make sure 'layer' specifies raw counts")
  }
  # Layers that are neither a dgCMatrix nor a double matrix (BPCells' on-disk IterableMatrix, ...)
  # have other arithmetic in Seurat: its own method does the whole call.
  kinds <- vapply(layer, function(l) {
    x <- LayerData(object = object, layer = l, fast = TRUE)
    if (inherits(x, "dgCMatrix") || (is.matrix(x) && is.double(x))) "" else class(x)[1]
  }, "")
  if (any(nzchar(kinds))) {
    f <- seurat_fun(paste0("a '", kinds[nzchar(kinds)][1], "' layer"), "StdAssay")
    return(f(object = object, features = features, layer = olayer, vars.to.regress = vars.to.regress,
             latent.data = latent.data, by.layer = by.layer, split.by = split.by, model.use = model.use,
             use.umi = use.umi, do.scale = do.scale, do.center = do.center, scale.max = scale.max,
             block.size = block.size, min.cells.to.block = min.cells.to.block, save = save,
             verbose = verbose, ...))
  }
  features <- features %||% SeuratObject::VariableFeatures(object = object)
  if (!length(features)) {
    features <- SeuratObject::Features(x = object, layer = layer)
  }
  assay.features <- rownames(methods::slot(object, "features"))
  if (isTRUE(by.layer)) {
    if (length(save) != length(layer)) {
      save <- make.unique(names = gsub(pattern = olayer, replacement = save, x = layer))
    }
    for (i in seq_along(layer)) {
      lyr <- layer[i]
      if (isTRUE(verbose)) message("Scaling data for layer ", sQuote(lyr))
      check_dots(...)
      # The result goes straight into store_layer (no variable holds it), so it is not shared.
      object <- store_layer(object, save[i], scale_default(
        LayerData(object = object, layer = lyr, features = features, fast = NA),
        features = features, vars.to.regress = vars.to.regress, latent.data = latent.data,
        split.by = split.by, model.use = model.use, use.umi = use.umi, do.scale = do.scale,
        do.center = do.center, scale.max = scale.max, block.size = block.size,
        min.cells.to.block = min.cells.to.block, verbose = verbose, row.order = assay.features), ...)
    }
  } else {
    ldata <- if (length(layer) > 1L) {
      so_fun("StitchMatrix")(
        x = LayerData(object = object, layer = layer[1L], features = features),
        y = lapply(layer[2:length(layer)], FUN = LayerData, object = object, features = features),
        rowmap = methods::slot(object, "features")[features, layer],
        colmap = methods::slot(object, "cells")[, layer])
    } else {
      LayerData(object = object, layer = layer, features = features)
    }
    check_dots(...)
    object <- store_layer(object, save, scale_default(
      ldata, features = features, vars.to.regress = vars.to.regress, latent.data = latent.data,
      split.by = split.by, model.use = model.use, use.umi = use.umi, do.scale = do.scale,
      do.center = do.center, scale.max = scale.max, block.size = block.size,
      min.cells.to.block = min.cells.to.block, verbose = verbose, row.order = assay.features))
  }
  object
}

# LayerData(object, layer, features = rownames(value)) <- value, as SeuratObject 5 does it, without
# its two copies of the result (unname(), then value[fmatch, cmatch]) when they would change
# nothing: value a fresh double matrix whose rows and columns are already in the assay's order
# (then fmatch and cmatch are the identity). What is stored is the same: the matrix without
# dimnames, the layer's features and cells in the maps, the same warnings when the layer exists
# with other features or cells; then validObject(), as SeuratObject. Anything else goes through
# SeuratObject's setter.
store_layer <- function(object, layer, value, ...) {
  feats <- rownames(value)
  cells <- colnames(value)
  fpos <- match(feats, rownames(methods::slot(object, "features")))
  cpos <- match(cells, rownames(methods::slot(object, "cells")))
  fast <- ...length() == 0L && is.character(layer) && length(layer) == 1L && !is.na(layer) && nzchar(layer) &&
    is.matrix(value) && is.double(value) && length(feats) > 0L && length(cells) > 0L &&
    identical(names(dimnames(value)), NULL) &&
    !anyNA(fpos) && !is.unsorted(fpos, strictly = TRUE) && !anyNA(cpos) && !is.unsorted(cpos, strictly = TRUE)
  if (!fast) {
    `LayerData<-` <- so_fun("LayerData<-")
    LayerData(object = object, layer = layer, features = feats, ...) <- value
    return(object)
  }
  if (layer %in% so_fun("Layers")(object = object)) {
    if (!identical(feats, so_fun("Features")(x = object, layer = layer))) {
      warning("Different features in new layer data than already exists for ", layer, call. = FALSE, immediate. = TRUE)
    }
    if (!identical(cells, so_fun("Cells")(x = object, layer = layer))) {
      warning("Different cells in new layer data than already exists for ", layer, call. = FALSE, immediate. = TRUE)
    }
  }
  # `value` came straight from scale_default (not shared): the names are dropped in place.
  dimnames(value) <- NULL
  methods::slot(object, "layers")[[layer]] <- value
  methods::slot(object, "features")[[layer]] <- feats
  methods::slot(object, "cells")[[layer]] <- cells
  methods::validObject(object)
  object
}

#' Version of the scscale core library
#' @return A string such as "0.1.0".
#' @export
scscale_version <- function() .Call(scscale_r_version)
