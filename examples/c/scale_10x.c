/* Scales a 10x Genomics MatrixMarket matrix (genes x cells, gzip) the way a standard pipeline
 * does: normalise each cell to 10,000 counts, log1p (float32, as Scanpy's AnnData holds it),
 * then scale with both flavors and report what was done and how long it took.
 *
 *   scale_10x [DIR]        (default: examples/data/10x-10k-subset)
 */
#define _POSIX_C_SOURCE 199309L
#include "scscale.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void die(const char *what) {
    fprintf(stderr, "scale_10x: %s\n", what);
    exit(1);
}

/* Fails with the library's own message. */
static void check(sc_status s, const char *call) {
    if (s == SC_STATUS_OK) return;
    char msg[512];
    sc_last_error_message(msg, sizeof msg);
    fprintf(stderr, "scale_10x: %s failed: %s: %s\n", call, sc_status_name(s), msg);
    exit(1);
}

typedef struct {
    int64_t n_cells, n_genes, nnz;
    int64_t *indptr;  /* cells + 1 */
    int64_t *indices; /* gene of each entry */
    float *data;
} csr_matrix;

/* Reads matrix.mtx.gz (genes x cells, 1-based) into CSR cells x genes with counts. */
static csr_matrix read_10x(const char *dir) {
    char path[4096];
    snprintf(path, sizeof path, "%s/matrix.mtx.gz", dir);
    gzFile f = gzopen(path, "rb");
    if (!f) die("cannot open matrix.mtx.gz");
    char line[256];
    do {
        if (!gzgets(f, line, sizeof line)) die("empty matrix file");
    } while (line[0] == '%');
    csr_matrix m;
    if (sscanf(line, "%ld %ld %ld", &m.n_genes, &m.n_cells, &m.nnz) != 3) die("bad MatrixMarket size line");
    int64_t *gene = malloc(m.nnz * sizeof *gene), *cell = malloc(m.nnz * sizeof *cell);
    float *count = malloc(m.nnz * sizeof *count);
    m.indptr = calloc(m.n_cells + 1, sizeof *m.indptr);
    m.indices = malloc(m.nnz * sizeof *m.indices);
    m.data = malloc(m.nnz * sizeof *m.data);
    if (!gene || !cell || !count || !m.indptr || !m.indices || !m.data) die("out of memory");
    for (int64_t k = 0; k < m.nnz; k++) {
        double v;
        if (!gzgets(f, line, sizeof line) || sscanf(line, "%ld %ld %lf", &gene[k], &cell[k], &v) != 3) die("bad entry");
        if (gene[k] < 1 || gene[k] > m.n_genes || cell[k] < 1 || cell[k] > m.n_cells) die("entry out of range");
        count[k] = (float)v;
        m.indptr[cell[k]]++;
    }
    gzclose(f);
    for (int64_t c = 0; c < m.n_cells; c++) m.indptr[c + 1] += m.indptr[c];
    int64_t *fill = malloc(m.n_cells * sizeof *fill);
    memcpy(fill, m.indptr, m.n_cells * sizeof *fill);
    for (int64_t k = 0; k < m.nnz; k++) {
        int64_t at = fill[cell[k] - 1]++;
        m.indices[at] = gene[k] - 1;
        m.data[at] = count[k];
    }
    free(gene); free(cell); free(count); free(fill);
    return m;
}

/* normalize_total(target_sum=1e4) then log1p, in float32 like Scanpy on a float32 AnnData. */
static void log_normalise(csr_matrix *m) {
    for (int64_t c = 0; c < m->n_cells; c++) {
        double total = 0;
        for (int64_t k = m->indptr[c]; k < m->indptr[c + 1]; k++) total += m->data[k];
        float factor = total > 0 ? (float)(1e4 / total) : 0.0f;
        for (int64_t k = m->indptr[c]; k < m->indptr[c + 1]; k++) m->data[k] = log1pf(m->data[k] * factor);
    }
}

static void run(const csr_matrix *m, sc_flavor flavor, sc_value_type out_type, const char *label) {
    sc_sparse x = {(uint64_t)m->n_cells, (uint64_t)m->n_genes, m->indptr, (size_t)m->n_cells + 1,
                   m->indices, (size_t)m->nnz, m->data, (size_t)m->nnz, SC_INDEX_INT64, SC_VALUE_FLOAT32, 0};

    sc_options o;
    check(sc_options_default(&o, flavor), "sc_options_default");
    if (flavor == SC_FLAVOR_SCANPY) {
        o.clip = true; /* sc.pp.scale(adata, max_value=10) */
        o.max_value = 10.0;
    }
    size_t n_genes = (size_t)m->n_genes;
    double *mean = malloc(n_genes * sizeof *mean), *sd = malloc(n_genes * sizeof *sd);
    o.mean_out = mean; o.mean_out_len = n_genes;
    o.std_out = sd; o.std_out_len = n_genes;
    size_t len = (size_t)m->n_cells * n_genes, elem = out_type == SC_VALUE_FLOAT32 ? 4 : 8;
    void *out = malloc(len * elem);
    if (!out || !mean || !sd) die("out of memory");
    sc_dense_out d = {out, len, out_type, n_genes, 0};

    double t0 = now();
    check(sc_scale_csr(&x, &o, &d), "sc_scale_csr");
    double secs = now() - t0;

    double lo = INFINITY, hi = -INFINITY, sum = 0;
    for (size_t k = 0; k < len; k++) {
        double v = out_type == SC_VALUE_FLOAT32 ? ((float *)out)[k] : ((double *)out)[k];
        lo = v < lo ? v : lo;
        hi = v > hi ? v : hi;
        sum += v;
    }
    printf("%-22s %8.3f s  %6.1f MB out  z in [%.3f, %.3f], mean z %.2e, gene 0: mean %.4f std %.4f\n", label, secs,
           len * elem / 1e6, lo, hi, sum / len, mean[0], sd[0]);
    free(out); free(mean); free(sd);
}

int main(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : "examples/data/10x-10k-subset";
    printf("scscale %s (ABI %u)\n", sc_version(), sc_abi_version());
    double t0 = now();
    csr_matrix m = read_10x(dir);
    log_normalise(&m);
    printf("read %s: %ld cells x %ld genes, %ld stored (%.1f%%), log-normalised in %.2f s\n", dir, m.n_cells, m.n_genes,
           m.nnz, 100.0 * m.nnz / ((double)m.n_cells * m.n_genes), now() - t0);
    run(&m, SC_FLAVOR_SCANPY, SC_VALUE_FLOAT64, "scanpy max_value=10");
    run(&m, SC_FLAVOR_SCANPY, SC_VALUE_FLOAT32, "scanpy float32");
    run(&m, SC_FLAVOR_SEURAT, SC_VALUE_FLOAT64, "seurat scale.max=10");
    run(&m, SC_FLAVOR_SEURAT, SC_VALUE_FLOAT32, "seurat float32");
    free(m.indptr); free(m.indices); free(m.data);
    return 0;
}
