/* Registration of the .Call entry points (the Rust ones live in rust/src/lib.rs) and the two
 * helpers that must run in C because they may longjmp: allocation and the interrupt check. */
#include <R.h>
#include <Rinternals.h>
#include <R_ext/Rdynload.h>
#include <stdint.h>

SEXP scscale_r_scale_sparse(SEXP, SEXP, SEXP, SEXP, SEXP, SEXP, SEXP, SEXP, SEXP, SEXP, SEXP, SEXP, SEXP);
SEXP scscale_r_scale_dense(SEXP, SEXP, SEXP, SEXP, SEXP, SEXP, SEXP, SEXP, SEXP);
SEXP scscale_r_regress_scale(SEXP, SEXP, SEXP, SEXP, SEXP, SEXP, SEXP, SEXP, SEXP, SEXP, SEXP, SEXP, SEXP);
SEXP scscale_r_version(void);

/* An uninitialised double matrix: the library writes every element, so R's fill would be wasted
 * memory bandwidth. */
static SEXP scscale_alloc_matrix(SEXP nrow, SEXP ncol)
{
    double nr = Rf_asReal(nrow), nc = Rf_asReal(ncol);
    if (!(nr >= 0 && nc >= 0 && nr <= INT_MAX && nc <= INT_MAX))
        Rf_error("invalid matrix dimensions");
    if (nr * nc > (double) R_XLEN_T_MAX)
        Rf_error("a %.0f x %.0f matrix is too large for R", nr, nc);
    return Rf_allocMatrix(REALSXP, (int) nr, (int) nc);
}

static void check_interrupt(void *unused) { (void) unused; R_CheckUserInterrupt(); }

/* Called from Rust (progress callback): R's longjmp on an interrupt ends inside R_ToplevelExec,
 * never crossing Rust frames. Returns 1 when the user interrupted. */
int scscale_interrupted(void)
{
    return R_ToplevelExec(check_interrupt, NULL) == FALSE;
}

static const R_CallMethodDef call_entries[] = {
    {"scscale_alloc_matrix", (DL_FUNC) &scscale_alloc_matrix, 2},
    {"scscale_r_scale_sparse", (DL_FUNC) &scscale_r_scale_sparse, 13},
    {"scscale_r_scale_dense", (DL_FUNC) &scscale_r_scale_dense, 9},
    {"scscale_r_regress_scale", (DL_FUNC) &scscale_r_regress_scale, 13},
    {"scscale_r_version", (DL_FUNC) &scscale_r_version, 0},
    {NULL, NULL, 0}
};

void R_init_scscale(DllInfo *dll)
{
    R_registerRoutines(dll, NULL, call_entries, NULL, NULL);
    R_useDynamicSymbols(dll, FALSE);
    R_forceSymbols(dll, TRUE);
}
