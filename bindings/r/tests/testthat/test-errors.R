# Bad input gives an R error carrying the library's message; the session survives.

m <- awkward_matrix(20, 30)

test_that("corrupt dgCMatrix slots are refused by the library", {
  bad <- m
  bad@i[3] <- 1000L
  expect_error(ours(bad), class = "scscale_error")
  expect_error(ours(bad), "SC_STATUS_INDEX_OUT_OF_RANGE")
  bad <- m
  bad@p[length(bad@p)] <- bad@p[length(bad@p)] + 5L
  expect_error(ours(bad), "SC_STATUS_INDPTR")
  dup <- m
  j <- dup@p[3] + 1L                   # a column with at least two entries
  dup@i[j + 1L] <- dup@i[j]
  expect_error(ours(dup), "SC_STATUS_DUPLICATE_ENTRY")
  bad <- m
  bad@i[3] <- 1000L
  expect_error(ours(bad, vars.to.regress = "v", latent.data = data.frame(v = seq_len(ncol(m)), row.names = colnames(m))),
               "SC_STATUS_INDEX_OUT_OF_RANGE")
})

test_that("bad arguments", {
  expect_error(ours(m, scale.max = NA), "scale.max")
  expect_error(ours(m, do.center = NA), "do.center")
  expect_error(ours(m, model.use = "cubic"), "not a valid model")
  noname <- m
  dimnames(noname) <- list(NULL, NULL)
  expect_error(ours(noname), "row names")
  expect_error(ours(m, vars.to.regress = "nothing"), "None of the requested variables")
  lat <- data.frame(v = c(NA, seq_len(ncol(m) - 1)), row.names = colnames(m))
  expect_error(ours(m, vars.to.regress = "v", latent.data = lat), "NA")
  expect_warning(ours(m, not.an.argument = 1), "not used")
})

test_that("a long call can be interrupted (elapsed time limit) and R keeps working", {
  set.seed(1)
  big <- Matrix::rsparsematrix(2000, 20000, 0.1)
  dimnames(big) <- list(paste0("g", 1:2000), paste0("c", 1:20000))
  lat <- data.frame(v = stats::runif(20000), row.names = colnames(big))
  hit <- tryCatch({
    setTimeLimit(elapsed = 0.05, transient = TRUE)
    on.exit(setTimeLimit(elapsed = Inf), add = TRUE)
    for (k in 1:50) scscale::ScaleData(big, vars.to.regress = "v", latent.data = lat, verbose = FALSE)
    "finished"
  }, interrupt = function(e) "interrupted", error = function(e) conditionMessage(e))
  setTimeLimit(elapsed = Inf)
  expect_true(hit %in% c("interrupted", "reached elapsed time limit"))
  expect_identical(ours(m), seurat_scale(m))
})

test_that("a forked child of a session that used the library computes the same result", {
  skip_on_os("windows")
  ours(m)
  # The core rebuilds its worker pools in a child (they do not survive fork()); a hang would
  # show up as a NULL from mccollect after the timeout.
  job <- parallel::mcparallel(ours(m))
  out <- parallel::mccollect(job, wait = TRUE, timeout = 60)[[1]]
  expect_identical(out, seurat_scale(m))
})
