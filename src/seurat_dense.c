/* Seurat's dense scaler (FastRowScale: matrixStats rowMeans2 / rowSds(center=) / rowSums2, then
 * R arithmetic) for a dense double matrix, bit for bit. It lives in C, not Rust, because base R's
 * rowMeans inside rowSds accumulates in long double (x87 80-bit on x86_64), which Rust cannot
 * express. Plain C99 without R headers: src/seurat_dense.rs checks every argument before calling.
 * Per gene and group:
 *   mean = (double sum of non-NaN values) / count                  rowMeans2(na.rm = TRUE)
 *   mean += (double sum of (x - mean)) / count, when finite          matrixStats >= 1.0.0 only:
 *                                                                   rowMeans2's default refine = TRUE
 *   sd   = sqrt((double)(LD sum of (x-mean)^2 / LD n) * (n/(n-1)))  rowSds(center = mean); NA if n <= 1
 *   sd   = sqrt((double sum of x^2) / (n-1))                        when not centering
 *   z    = (x - mean) / sd, clipped above at scale.max, NaN -> 0.
 * Accumulation goes cell by cell (column-major friendly), each gene's sums in cell order, which is
 * the order of R's loops. The operation order must not change: it is what makes the bits equal. */
#include <float.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

/* Return values; mirrored in seurat_dense.rs. */
#define SEURAT_DENSE_OK 0
#define SEURAT_DENSE_CANCELLED 1
#define SEURAT_DENSE_NO_MEMORY 2

/* x: cell c's values start at x + c * stride (R's genes x cells column-major matrix).
 * rows[o]: the gene (offset within a cell) of output row o, each < stride.
 * groups: NULL (every cell in group 0) or one label per cell, -1 (no group: output 0) or
 * 0 <= label < n_groups.
 * out: n_out values per cell, cell after cell (R's n_out x cells column-major matrix).
 * progress: NULL, or polled at cells 0, 1024, 2048, ... of every pass; nonzero stops the call. */
int scscale_seurat_dense_scale(const double *x, size_t n_cells, size_t stride, const size_t *rows,
                               size_t n_out, const int32_t *groups, size_t n_groups, int center,
                               int scale, int refine, double scale_max, double *out,
                               int (*progress)(void *data), void *progress_data)
{
    const size_t k = n_groups * n_out;
    int status = SEURAT_DENSE_OK;
    /* calloc(0) may return NULL: ask for at least one element. */
    const size_t ka = k ? k : 1, ga = n_groups ? n_groups : 1;
    double *sum = (double *) calloc(ka, sizeof(double));
    double *cnt = (double *) calloc(ka, sizeof(double));
    long double *ss = (long double *) calloc(ka, sizeof(long double));
    double *mean = (double *) calloc(ka, sizeof(double));
    double *sd = (double *) calloc(ka, sizeof(double));
    double *dsum = (double *) calloc(ka, sizeof(double));
    size_t *size = (size_t *) calloc(ga, sizeof(size_t));
    if (!sum || !cnt || !ss || !mean || !sd || !dsum || !size) {
        status = SEURAT_DENSE_NO_MEMORY;
        goto done;
    }
#define GROUP(c) (groups ? groups[c] : 0)
#define POLL(c)                                                                                    \
    if (((c) & 1023) == 0 && progress && progress(progress_data)) {                                \
        status = SEURAT_DENSE_CANCELLED;                                                           \
        goto done;                                                                                 \
    }
    for (size_t j = 0; j < k; j++) { sum[j] = 0; cnt[j] = 0; ss[j] = 0; dsum[j] = 0; mean[j] = 0; sd[j] = 1; }
    for (size_t c = 0; c < n_cells; c++)
        if (GROUP(c) >= 0) size[GROUP(c)]++;

    if (center) {
        for (size_t c = 0; c < n_cells; c++) {
            POLL(c)
            const int32_t g = GROUP(c);
            if (g < 0) continue;
            const double *col = x + c * stride;
            double *s = sum + (size_t) g * n_out, *m = cnt + (size_t) g * n_out;
            for (size_t o = 0; o < n_out; o++) {
                double v = col[rows[o]];
                if (!isnan(v)) { s[o] += v; m[o] += 1; }
            }
        }
        for (size_t j = 0; j < k; j++) {
            /* matrixStats: sums beyond DBL_MAX become +-Inf before the division. */
            double s = sum[j];
            mean[j] = s > DBL_MAX ? INFINITY : s < -DBL_MAX ? -INFINITY : s / cnt[j];
        }
        if (refine) {
            /* rowMeans2(refine = TRUE): sum the deviations from the first mean (in cell order,
             * NaN skipped) and add their mean; skipped when the first mean is not finite. */
            for (size_t j = 0; j < k; j++) sum[j] = 0;
            for (size_t c = 0; c < n_cells; c++) {
                POLL(c)
                const int32_t g = GROUP(c);
                if (g < 0) continue;
                const double *col = x + c * stride;
                const size_t off = (size_t) g * n_out;
                for (size_t o = 0; o < n_out; o++) {
                    double v = col[rows[o]];
                    if (!isnan(v)) sum[off + o] += v - mean[off + o];
                }
            }
            for (size_t j = 0; j < k; j++)
                if (isfinite(mean[j])) mean[j] += sum[j] / cnt[j];
        }
    }
    if (scale) {
        for (size_t c = 0; c < n_cells; c++) {
            POLL(c)
            const int32_t g = GROUP(c);
            if (g < 0) continue;
            const double *col = x + c * stride;
            const size_t off = (size_t) g * n_out;
            for (size_t o = 0; o < n_out; o++) {
                double v = col[rows[o]];
                if (center) {
                    double d = v - mean[off + o];
                    ss[off + o] += d * d;
                } else {
                    dsum[off + o] += v * v;
                }
            }
        }
        for (size_t j = 0; j < k; j++) {
            /* R's n is an int: n - 1 in double is exact, and -1 for an empty group as in R. */
            const double n = (double) size[j / n_out];
            if (center) {
                if (n <= 1) { sd[j] = NAN; continue; } /* R: NA_real_ */
                double ms = (double) (ss[j] / (long double) n);
                if (isinf(mean[j])) ms = NAN;
                sd[j] = sqrt(ms * (n / (n - 1)));
            } else {
                double s = dsum[j];
                s = s > DBL_MAX ? INFINITY : s < -DBL_MAX ? -INFINITY : s;
                sd[j] = sqrt(s / (n - 1));
            }
        }
    }
    {
        const int clip = scale_max != INFINITY;
        for (size_t c = 0; c < n_cells; c++) {
            POLL(c)
            double *zc = out + c * n_out;
            const int32_t g = GROUP(c);
            if (g < 0) {
                for (size_t o = 0; o < n_out; o++) zc[o] = 0;
                continue;
            }
            const double *col = x + c * stride;
            const size_t off = (size_t) g * n_out;
            for (size_t o = 0; o < n_out; o++) {
                double z = col[rows[o]];
                if (center) z = z - mean[off + o];
                if (scale) z = z / sd[off + o];
                if (clip && z > scale_max) z = scale_max;
                zc[o] = isnan(z) ? 0 : z;
            }
        }
    }
#undef POLL
#undef GROUP
done:
    free(sum);
    free(cnt);
    free(ss);
    free(mean);
    free(sd);
    free(dsum);
    free(size);
    return status;
}
