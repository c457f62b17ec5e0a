library(testthat)
library(scscale)
test_check("scscale")
