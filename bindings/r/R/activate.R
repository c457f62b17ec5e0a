# activate() / deactivate(): Seurat's own ScaleData methods replaced by scscale's, in Seurat's
# namespace (for calls made inside Seurat, which find the namespace's binding first) and in its
# S3 methods table (for calls of the generic from anywhere else), so the order of library()
# calls does not matter. The originals are kept here and put back by deactivate().

.state <- new.env(parent = emptyenv())

scscale_methods <- function() {
  list(ScaleData.default = ScaleData.default, ScaleData.Assay = ScaleData.Assay,
       ScaleData.StdAssay = ScaleData.StdAssay, ScaleData.Seurat = ScaleData.Seurat)
}

set_seurat_method <- function(name, fun) {
  ns <- asNamespace("Seurat")
  locked <- bindingIsLocked(name, ns)
  if (locked) unlockBinding(name, ns)
  assign(name, fun, envir = ns)
  if (locked) lockBinding(name, ns)
  registerS3method("ScaleData", sub("^ScaleData[.]", "", name), fun, envir = ns)
}

#' Make Seurat's own ScaleData use scscale
#'
#' After \code{activate()}, \code{Seurat::ScaleData()} and every Seurat function that calls it
#' run scscale's methods (for \code{Seurat}, \code{Assay}, \code{Assay5} objects and matrices),
#' whatever the order in which the packages were attached. \code{deactivate()} puts Seurat's
#' methods back. Both are idempotent and return (invisibly) whether they changed anything.
#' @return \code{TRUE} if the methods were switched, \code{FALSE} if already in that state.
#' @export
activate <- function() {
  if (!requireNamespace("Seurat", quietly = TRUE)) stop("activate() needs Seurat, which is not installed", call. = FALSE)
  if (isTRUE(.state$active)) return(invisible(FALSE))
  ns <- asNamespace("Seurat")
  ours <- scscale_methods()
  ours <- ours[vapply(names(ours), exists, TRUE, envir = ns, inherits = FALSE)]
  .state$originals <- mget(names(ours), envir = ns, inherits = FALSE)
  for (nm in names(ours)) set_seurat_method(nm, ours[[nm]])
  .state$active <- TRUE
  invisible(TRUE)
}

#' @rdname activate
#' @export
deactivate <- function() {
  if (!isTRUE(.state$active)) return(invisible(FALSE))
  for (nm in names(.state$originals)) set_seurat_method(nm, .state$originals[[nm]])
  .state$originals <- NULL
  .state$active <- FALSE
  invisible(TRUE)
}

#' @rdname activate
#' @export
is_active <- function() isTRUE(.state$active)

.onUnload <- function(libpath) {
  if (isTRUE(.state$active) && isNamespaceLoaded("Seurat")) deactivate()
}
