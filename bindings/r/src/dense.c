/* Seurat's dense scaler (FastRowScale: matrixStats rowMeans2 / rowSds(center=) / rowSums2, then
 * R arithmetic) for a dense double matrix, bit for bit. It lives in C, not Rust, because base R's
 * rowMeans inside rowSds accumulates in long double (x87 80-bit here), which Rust cannot express.
 * Per gene and group:
 *   mean = (double sum of non-NaN values) / count                  rowMeans2(na.rm = TRUE)
 *   mean += (double sum of (x - mean)) / count, when finite          matrixStats >= 1.0.0 only:
 *                                                                   rowMeans2's default refine = TRUE
 *   sd   = sqrt((double)(LD sum of (x-mean)^2 / LD n) * (n/(n-1)))  rowSds(center = mean); NA if n <= 1
 *   sd   = sqrt((double sum of x^2) / (n-1))                        when not centering
 *   z    = (x - mean) / sd, clipped above at scale.max, NaN -> 0.
 * Accumulation goes cell by cell (column-major friendly), each gene's sums in cell order, which is
 * the order of R's loops. */
#include <R.h>
#include <Rinternals.h>
#include <float.h>
#include <math.h>

SEXP scscale_dense_scale(SEXP out, SEXP x, SEXP rows, SEXP groups, SEXP n_groups_, SEXP flags, SEXP scale_max_)
/* flags: center, scale, refine (the second pass of matrixStats >= 1.0.0's rowMeans2). */
{
    if (!isReal(x) || !isMatrix(x) || !isReal(out) || !isInteger(rows) || !isInteger(groups) || !isLogical(flags) || LENGTH(flags) != 3)
        error("scscale_dense_scale: bad argument types");
    const int n_genes = nrows(x), n_cells = ncols(x), n_out = LENGTH(rows);
    const int G = asInteger(n_groups_);
    const int center = LOGICAL(flags)[0], scale = LOGICAL(flags)[1], refine = LOGICAL(flags)[2];
    const double scale_max = asReal(scale_max_);
    if (LENGTH(groups) != n_cells || G < 1 || XLENGTH(out) != (R_xlen_t) n_out * n_cells)
        error("scscale_dense_scale: inconsistent sizes");
    const int *row = INTEGER(rows), *grp = INTEGER(groups);
    for (int o = 0; o < n_out; o++)
        if (row[o] < 0 || row[o] >= n_genes) error("scscale_dense_scale: feature index out of range");
    for (int c = 0; c < n_cells; c++)
        if (grp[c] < -1 || grp[c] >= G) error("scscale_dense_scale: group label out of range");
    const double *X = REAL(x);
    double *Z = REAL(out);
    const size_t k = (size_t) G * n_out;
    /* R_alloc: freed by R even when an interrupt jumps out. */
    double *sum = (double *) R_alloc(k, sizeof(double));
    double *cnt = (double *) R_alloc(k, sizeof(double));
    long double *ss = (long double *) R_alloc(k, sizeof(long double));
    double *mean = (double *) R_alloc(k, sizeof(double));
    double *sd = (double *) R_alloc(k, sizeof(double));
    int *size = (int *) R_alloc(G, sizeof(int));
    double *dsum = (double *) R_alloc(k, sizeof(double));
    for (size_t j = 0; j < k; j++) { sum[j] = 0; cnt[j] = 0; ss[j] = 0; dsum[j] = 0; mean[j] = 0; sd[j] = 1; }
    for (int g = 0; g < G; g++) size[g] = 0;
    for (int c = 0; c < n_cells; c++)
        if (grp[c] >= 0) size[grp[c]]++;

    if (center) {
        for (int c = 0; c < n_cells; c++) {
            if (grp[c] < 0) continue;
            const double *col = X + (R_xlen_t) c * n_genes;
            double *s = sum + (size_t) grp[c] * n_out, *m = cnt + (size_t) grp[c] * n_out;
            for (int o = 0; o < n_out; o++) {
                double v = col[row[o]];
                if (!ISNAN(v)) { s[o] += v; m[o] += 1; }
            }
            if ((c & 1023) == 0) R_CheckUserInterrupt();
        }
        for (size_t j = 0; j < k; j++) {
            /* matrixStats: sums beyond DBL_MAX become +-Inf before the division. */
            double s = sum[j];
            mean[j] = s > DBL_MAX ? R_PosInf : s < -DBL_MAX ? R_NegInf : s / cnt[j];
        }
        if (refine) {
            /* rowMeans2(refine = TRUE): sum the deviations from the first mean (in cell order,
             * NaN skipped) and add their mean; skipped when the first mean is not finite. */
            for (size_t j = 0; j < k; j++) sum[j] = 0;
            for (int c = 0; c < n_cells; c++) {
                if (grp[c] < 0) continue;
                const double *col = X + (R_xlen_t) c * n_genes;
                const size_t off = (size_t) grp[c] * n_out;
                for (int o = 0; o < n_out; o++) {
                    double v = col[row[o]];
                    if (!ISNAN(v)) sum[off + o] += v - mean[off + o];
                }
                if ((c & 1023) == 0) R_CheckUserInterrupt();
            }
            for (size_t j = 0; j < k; j++)
                if (R_FINITE(mean[j])) mean[j] += sum[j] / cnt[j];
        }
    }
    if (scale) {
        for (int c = 0; c < n_cells; c++) {
            if (grp[c] < 0) continue;
            const double *col = X + (R_xlen_t) c * n_genes;
            const size_t off = (size_t) grp[c] * n_out;
            for (int o = 0; o < n_out; o++) {
                double v = col[row[o]];
                if (center) {
                    double d = v - mean[off + o];
                    ss[off + o] += d * d;
                } else {
                    dsum[off + o] += v * v;
                }
            }
            if ((c & 1023) == 0) R_CheckUserInterrupt();
        }
        for (size_t j = 0; j < k; j++) {
            int n = size[j / (n_out ? n_out : 1)];
            if (center) {
                if (n <= 1) { sd[j] = NA_REAL; continue; }
                double ms = (double) (ss[j] / (long double) n);
                if (isinf(mean[j])) ms = R_NaN;
                sd[j] = sqrt(ms * ((double) n / (double) (n - 1)));
            } else {
                double s = dsum[j];
                s = s > DBL_MAX ? R_PosInf : s < -DBL_MAX ? R_NegInf : s;
                sd[j] = sqrt(s / (double) (n - 1));
            }
        }
    }
    const int clip = scale_max != R_PosInf;
    for (int c = 0; c < n_cells; c++) {
        double *zc = Z + (R_xlen_t) c * n_out;
        if (grp[c] < 0) {
            for (int o = 0; o < n_out; o++) zc[o] = 0;
            continue;
        }
        const double *col = X + (R_xlen_t) c * n_genes;
        const size_t off = (size_t) grp[c] * n_out;
        for (int o = 0; o < n_out; o++) {
            double z = col[row[o]];
            if (center) z = z - mean[off + o];
            if (scale) z = z / sd[off + o];
            if (clip && z > scale_max) z = scale_max;
            zc[o] = ISNAN(z) ? 0 : z;
        }
        if ((c & 1023) == 0) R_CheckUserInterrupt();
    }
    return R_NilValue;
}
