/* C test of the ABI as a C caller sees it: success against a hand-computed result, and every
 * status code for its bad input, with the output left untouched on failure.
 * Built and run (also under valgrind) by scripts/test-core.sh. */
#define _POSIX_C_SOURCE 200809L
#include "scscale.h"

#include <math.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int passed, failed;

#define CHECK(cond, ...)                                   \
    do {                                                   \
        if (cond) {                                        \
            passed++;                                      \
        } else {                                           \
            failed++;                                      \
            printf("FAIL %s:%d: ", __FILE__, __LINE__);    \
            printf(__VA_ARGS__);                           \
            printf("\n");                                  \
        }                                                  \
    } while (0)

/* 3 cells x 2 genes:  [1 0; 0 2; 3 0] */
static int32_t indptr[] = {0, 1, 2, 3};
static int32_t indices[] = {0, 1, 0};
static double data[] = {1.0, 2.0, 3.0};

static sc_sparse matrix(void) {
    sc_sparse x = {3, 2, indptr, 4, indices, 3, data, 3, SC_INDEX_INT32, SC_VALUE_FLOAT64, 0};
    return x;
}

/* The same matrix compressed over genes (CSC). */
static int32_t csc_indptr[] = {0, 2, 3};
static int32_t csc_rows[] = {0, 2, 1};
static double csc_data[] = {1.0, 3.0, 2.0};

static sc_sparse csc_matrix(void) {
    sc_sparse x = {3, 2, csc_indptr, 3, csc_rows, 3, csc_data, 3, SC_INDEX_INT32, SC_VALUE_FLOAT64, 0};
    return x;
}

static sc_options defaults(sc_flavor flavor) {
    sc_options o;
    sc_status s = sc_options_default(&o, flavor);
    CHECK(s == SC_STATUS_OK, "sc_options_default: %d", s);
    o.n_threads = 2;
    return o;
}

static char message[512];

static const char *last_message(void) {
    size_t n = sc_last_error_message(message, sizeof message);
    CHECK(n > 0 && n == strlen(message), "message length %zu vs %zu", n, strlen(message));
    return message;
}

static double out[16];

static void fill_sentinel(void) {
    for (int i = 0; i < 16; i++) out[i] = -12345.0;
}

static int untouched(void) {
    for (int i = 0; i < 16; i++)
        if (out[i] != -12345.0) return 0;
    return 1;
}

/* Expects `status` from a call, a non-empty message, and an untouched output. */
static void expect(sc_status got, sc_status want, const char *what) {
    CHECK(got == want, "%s: got %s (%d), want %s (%d): %s", what, sc_status_name(got), got,
          sc_status_name(want), want, got == SC_STATUS_OK ? "" : last_message());
    if (got != SC_STATUS_OK) {
        const char *m = last_message();
        CHECK(strlen(m) > 10, "%s: message too short: '%s'", what, m);
        printf("ok %-36s %-32s %s\n", what, sc_status_name(got), m);
    }
    CHECK(untouched(), "%s: output was written despite the error", what);
}

static sc_dense_out dense_out(size_t len) {
    sc_dense_out o = {out, len, SC_VALUE_FLOAT64, 2, 0};
    return o;
}

static int32_t cancel_after_first(void *data, uint64_t done, uint64_t total) {
    (void)total;
    (*(int *)data)++;
    return done > 0;
}

static void test_success(void) {
    /* Seurat: gene 0 = (1,0,3): mean 4/3, ss = (1-4/3)^2 + (3-4/3)^2 + (4/3)^2 * 1, sd = sqrt(ss/2). */
    sc_sparse x = matrix();
    sc_options o = defaults(SC_FLAVOR_SEURAT);
    double mean[2], sd[2];
    o.mean_out = mean; o.mean_out_len = 2; o.std_out = sd; o.std_out_len = 2;
    fill_sentinel();
    sc_dense_out d = dense_out(6);
    sc_status s = sc_scale_csr(&x, &o, &d);
    CHECK(s == SC_STATUS_OK, "seurat: %s", sc_status_name(s));
    double m0 = 4.0 / 3.0;
    double ss0 = (1.0 - m0) * (1.0 - m0) + (3.0 - m0) * (3.0 - m0);
    ss0 += (m0 * m0) * 1.0;
    double sd0 = sqrt(ss0 / 2.0);
    CHECK(mean[0] == m0 && sd[0] == sd0, "seurat stats %.17g %.17g", mean[0], sd[0]);
    CHECK(out[0] == (1.0 - m0) / sd0 && out[2] == (0.0 - m0) / sd0 && out[4] == (3.0 - m0) / sd0,
          "seurat gene 0: %.17g %.17g %.17g", out[0], out[2], out[4]);
    CHECK(out[6] == -12345.0, "wrote past the output");

    /* Scanpy: one-pass variance, gene 1 = (0,2,0): mean 2/3, var = (4/3 - 4/9) * 3/2. */
    o = defaults(SC_FLAVOR_SCANPY);
    o.clip = true; o.max_value = 1.0;
    o.mean_out = mean; o.mean_out_len = 2; o.std_out = sd; o.std_out_len = 2;
    s = sc_scale_csr(&x, &o, &d);
    CHECK(s == SC_STATUS_OK, "scanpy: %s", sc_status_name(s));
    double m1 = 2.0 / 3.0, v1 = (4.0 / 3.0 - m1 * m1) * (3.0 / 2.0);
    CHECK(mean[1] == m1 && sd[1] == sqrt(v1), "scanpy stats %.17g %.17g", mean[1], sd[1]);
    CHECK(out[3] == 1.0, "scanpy clip: %.17g", out[3]); /* (2 - 2/3)/0.943 > 1 -> 1 */

    /* float32 output, wider row stride (leading dimension) and a column map (gene 1 only). */
    float out32[8];
    for (int i = 0; i < 8; i++) out32[i] = -1.0f;
    int64_t map[2] = {-1, 0};
    o = defaults(SC_FLAVOR_SEURAT);
    o.column_map = map; o.column_map_len = 2;
    sc_dense_out d32 = {out32, 7, SC_VALUE_FLOAT32, 1, 3};
    s = sc_scale_csr(&x, &o, &d32);
    CHECK(s == SC_STATUS_OK, "f32 strided: %s %s", sc_status_name(s), s ? last_message() : "");
    CHECK(out32[1] == -1.0f && out32[2] == -1.0f && out32[7] == -1.0f, "strided write touched padding");
    CHECK(out32[3] > 1.0f && out32[0] < 0.0f, "f32 values %g %g", out32[0], out32[3]);

    /* Julia's view: 1-based int64 indices of the same matrix. */
    int64_t indptr1[] = {1, 2, 3, 4}, indices1[] = {1, 2, 1};
    sc_sparse x1 = {3, 2, indptr1, 4, indices1, 3, data, 3, SC_INDEX_INT64, SC_VALUE_FLOAT64, 1};
    double out1[6];
    sc_dense_out d1 = {out1, 6, SC_VALUE_FLOAT64, 2, 0};
    o = defaults(SC_FLAVOR_SEURAT);
    s = sc_scale_csr(&x1, &o, &d1);
    sc_dense_out d0 = dense_out(6);
    sc_status s0 = sc_scale_csr(&x, &o, &d0);
    CHECK(s == SC_STATUS_OK && s0 == SC_STATUS_OK && memcmp(out1, out, sizeof out1) == 0, "1-based int64 differs");

    /* The same matrix as CSC (genes compressed), written column-major as scipy's CSC toarray()
     * orders it: the row-major Scanpy result transposed (CSC and CSR sums agree with T = 1). */
    sc_sparse xc = csc_matrix();
    double colmajor[6], rowmajor[6];
    sc_dense_out dc = {colmajor, 6, SC_VALUE_FLOAT64, 2, 0}, dr = {rowmajor, 6, SC_VALUE_FLOAT64, 2, 0};
    o = defaults(SC_FLAVOR_SCANPY);
    o.n_partitions = 1;
    s = sc_scale_csc_colmajor(&xc, &o, &dc);
    s0 = sc_scale_csr(&x, &o, &dr);
    CHECK(s == SC_STATUS_OK && s0 == SC_STATUS_OK, "column-major: %s %s", sc_status_name(s), sc_status_name(s0));
    int same = 1;
    for (int r = 0; r < 3; r++)
        for (int j = 0; j < 2; j++) same &= colmajor[j * 3 + r] == rowmajor[r * 2 + j];
    CHECK(same, "column-major output is not the row-major one transposed");

    /* Statistics only, and the version. */
    double var[2];
    o = defaults(SC_FLAVOR_SCANPY);
    o.var_out = var; o.var_out_len = 2;
    CHECK(sc_stats_csr(&x, &o) == SC_STATUS_OK && var[1] == v1, "stats only: %.17g", var[1]);
    CHECK(sc_abi_version() == SC_ABI_VERSION, "abi %u", sc_abi_version());
    CHECK(strcmp(sc_version(), SCSCALE_VERSION) == 0, "version %s", sc_version());
}

static void test_errors(void) {
    sc_options o = defaults(SC_FLAVOR_SEURAT);
    sc_dense_out d = dense_out(6);
    sc_sparse x;
    fill_sentinel();

    expect(sc_scale_csr(NULL, &o, &d), SC_STATUS_NULL_POINTER, "NULL matrix");
    x = matrix(); expect(sc_scale_csr(&x, NULL, &d), SC_STATUS_NULL_POINTER, "NULL options");
    x = matrix(); x.data = NULL; expect(sc_scale_csr(&x, &o, &d), SC_STATUS_NULL_POINTER, "NULL data with length");
    sc_dense_out dn = {NULL, 6, SC_VALUE_FLOAT64, 2, 0};
    x = matrix(); expect(sc_scale_csr(&x, &o, &dn), SC_STATUS_NULL_POINTER, "NULL output with length");
    x = matrix(); x.index_type = 7; expect(sc_scale_csr(&x, &o, &d), SC_STATUS_INVALID_ENUM, "bad index type");
    x = matrix(); x.index_base = 2; expect(sc_scale_csr(&x, &o, &d), SC_STATUS_INVALID_ENUM, "index base 2");
    sc_options of = o; of.flavor = 9; x = matrix(); expect(sc_scale_csr(&x, &of, &d), SC_STATUS_INVALID_ENUM, "bad flavor");
    x = matrix(); x.indptr_len = 3; expect(sc_scale_csr(&x, &o, &d), SC_STATUS_INDPTR_LENGTH, "short indptr");
    int32_t p_start[] = {1, 1, 2, 3};
    x = matrix(); x.indptr = p_start; expect(sc_scale_csr(&x, &o, &d), SC_STATUS_INDPTR_START, "indptr[0] != 0");
    int32_t p_mono[] = {0, 2, 1, 3};
    x = matrix(); x.indptr = p_mono; expect(sc_scale_csr(&x, &o, &d), SC_STATUS_INDPTR_NOT_MONOTONE, "decreasing indptr");
    int32_t p_end[] = {0, 1, 2, 2};
    x = matrix(); x.indptr = p_end; expect(sc_scale_csr(&x, &o, &d), SC_STATUS_INDPTR_END, "indptr end != nnz");
    x = matrix(); x.indices_len = 2; expect(sc_scale_csr(&x, &o, &d), SC_STATUS_LENGTH_MISMATCH, "indices/data lengths");
    int32_t i_big[] = {0, 2, 0}, i_neg[] = {0, -1, 0};
    x = matrix(); x.indices = i_big; expect(sc_scale_csr(&x, &o, &d), SC_STATUS_INDEX_OUT_OF_RANGE, "index = n_cols");
    x = matrix(); x.indices = i_neg; expect(sc_scale_csr(&x, &o, &d), SC_STATUS_INDEX_OUT_OF_RANGE, "negative index");
    int32_t p_dup[] = {0, 2, 2, 3}, i_dup[] = {0, 0, 0};
    x = matrix(); x.indptr = p_dup; x.indices = i_dup;
    expect(sc_scale_csr(&x, &o, &d), SC_STATUS_DUPLICATE_ENTRY, "duplicate entry (Seurat)");
    x = matrix(); sc_dense_out small = dense_out(5);
    expect(sc_scale_csr(&x, &o, &small), SC_STATUS_OUTPUT_TOO_SMALL, "output too small");
    x = matrix(); sc_dense_out narrow = {out, 16, SC_VALUE_FLOAT64, 2, 1};
    expect(sc_scale_csr(&x, &o, &narrow), SC_STATUS_INVALID_STRIDE, "row stride < width");
    x = matrix(); x.n_rows = UINT64_MAX / 2; x.indptr_len = 4;
    expect(sc_scale_csr(&x, &o, &d), SC_STATUS_SIZE_OVERFLOW, "2^63 rows");
    x = matrix(); x.n_rows = 4;
    expect(sc_scale_csr(&x, &o, &d), SC_STATUS_INDPTR_LENGTH, "n_rows + 1 != indptr_len");
    x = matrix(); sc_dense_out huge = {out, 16, SC_VALUE_FLOAT64, UINT64_MAX / 4, 0};
    expect(sc_scale_csr(&x, &o, &huge), SC_STATUS_SIZE_OVERFLOW, "rows x columns overflow");
    sc_options on = o; on.max_value = NAN; x = matrix();
    expect(sc_scale_csr(&x, &on, &d), SC_STATUS_INVALID_OPTION, "NaN scale.max");
    sc_options op = defaults(SC_FLAVOR_SCANPY); op.n_partitions = 0; x = matrix();
    expect(sc_scale_csr(&x, &op, &d), SC_STATUS_INVALID_OPTION, "zero partitions");
    int32_t groups_short[2] = {0, 0};
    sc_options og = o; og.groups = groups_short; og.groups_len = 2; og.n_groups = 1; x = matrix();
    expect(sc_scale_csr(&x, &og, &d), SC_STATUS_GROUPS_LENGTH, "groups of wrong length");
    int32_t groups_bad[3] = {0, 3, -1};
    og.groups = groups_bad; og.groups_len = 3; og.n_groups = 2; x = matrix();
    expect(sc_scale_csr(&x, &og, &d), SC_STATUS_INVALID_GROUP, "group label >= n_groups");
    int64_t map_short[1] = {0};
    sc_options om = o; om.column_map = map_short; om.column_map_len = 1; x = matrix();
    expect(sc_scale_csr(&x, &om, &d), SC_STATUS_COLUMN_MAP_LENGTH, "column map of wrong length");
    int64_t map_twice[2] = {0, 0};
    om.column_map = map_twice; om.column_map_len = 2; x = matrix();
    expect(sc_scale_csr(&x, &om, &d), SC_STATUS_INVALID_COLUMN_MAP, "two genes -> one column");
    double mean1[1];
    sc_options os = o; os.mean_out = mean1; os.mean_out_len = 1; x = matrix();
    expect(sc_scale_csr(&x, &os, &d), SC_STATUS_STATS_LENGTH, "mean_out too short");
    x = matrix(); expect(sc_scale_csc(&x, &o, &d), SC_STATUS_UNSUPPORTED, "Seurat flavor on CSC");
    x = csc_matrix(); expect(sc_scale_csc_colmajor(&x, &o, &d), SC_STATUS_UNSUPPORTED, "Seurat flavor, column-major");
    sc_options oscanpy = defaults(SC_FLAVOR_SCANPY);
    x = csc_matrix(); sc_dense_out strided = {out, 16, SC_VALUE_FLOAT64, 2, 3};
    expect(sc_scale_csc_colmajor(&x, &oscanpy, &strided), SC_STATUS_UNSUPPORTED, "column-major with a stride");
    x = csc_matrix(); expect(sc_scale_csc_colmajor(&x, &oscanpy, &small), SC_STATUS_OUTPUT_TOO_SMALL, "column-major too small");
    int calls = 0;
    sc_options oc = o; oc.progress = cancel_after_first; oc.progress_data = &calls; x = matrix();
    sc_status s = sc_scale_csr(&x, &oc, &d);
    CHECK(s == SC_STATUS_CANCELLED && calls == 2, "cancel: %s after %d calls", sc_status_name(s), calls);
    fill_sentinel();
    x = matrix(); x.data = (const char *)data + 1;
    expect(sc_scale_csr(&x, &o, &d), SC_STATUS_MISALIGNED, "misaligned data");
    x = matrix(); sc_dense_out alias = {data, 6, SC_VALUE_FLOAT64, 2, 0};
    double before[3]; memcpy(before, data, sizeof before);
    expect(sc_scale_csr(&x, &o, &alias), SC_STATUS_OVERLAP, "output overlaps input");
    CHECK(memcmp(before, data, sizeof before) == 0, "input modified by a refused call");
    CHECK(strcmp(sc_status_name(SC_STATUS_PANIC), "SC_STATUS_PANIC") == 0 && strcmp(sc_status_name(12345), "SC_STATUS_UNKNOWN") == 0,
          "status names");
    /* Truncation: a 4-byte buffer gets 3 characters and a NUL, the return value is the full length. */
    char tiny[4];
    size_t full = sc_last_error_message(tiny, sizeof tiny);
    CHECK(full > 3 && strlen(tiny) == 3, "truncated message");
}

/* Chunked statistics: dense and CSR chunks folded in row order give the in-memory bits; a
 * refused call leaves the accumulator as it was. */
static double dense_data[] = {1.0, 0.0, 0.0, 2.0, 3.0, 0.0}; /* the same 3 x 2 matrix, row-major */

static sc_dense dense_rows(uint64_t first, uint64_t n) {
    sc_dense x = {n, 2, dense_data + 2 * first, (size_t)(2 * n), SC_VALUE_FLOAT64, 0};
    return x;
}

static double acc[64], acc_before[64];

static void expect_acc(sc_status got, sc_status want, const char *what) {
    expect(got, want, what);
    CHECK(memcmp(acc, acc_before, sizeof acc) == 0, "%s: accumulator changed by a refused call", what);
}

static void test_accumulators(void) {
    sc_options o = defaults(SC_FLAVOR_SCANPY);
    o.n_partitions = 2; /* dense sums ignore it; CSR chunks below use 1 */
    size_t len = 0;
    sc_status s = sc_accumulator_len(&o, 2, &len);
    CHECK(s == SC_STATUS_OK && len > 8 && len <= 64, "sc_accumulator_len: %s %zu", sc_status_name(s), len);
    CHECK(sc_accumulator_init(&o, 2, acc, len) == SC_STATUS_OK, "init");
    sc_dense first = dense_rows(0, 1), rest = dense_rows(1, 2), whole = dense_rows(0, 3);
    CHECK(sc_accumulate_dense(&first, &o, acc, len) == SC_STATUS_OK, "dense chunk 0..1: %s", last_message());
    CHECK(sc_accumulate_dense(&rest, &o, acc, len) == SC_STATUS_OK, "dense chunk 1..3: %s", last_message());
    double mean[2], var[2], sd[2], wmean[2], wvar[2], wsd[2];
    sc_options of = o;
    of.mean_out = mean; of.mean_out_len = 2; of.var_out = var; of.var_out_len = 2; of.std_out = sd; of.std_out_len = 2;
    CHECK(sc_accumulator_finalize(&of, 2, acc, len) == SC_STATUS_OK, "finalize dense");
    sc_options ow = defaults(SC_FLAVOR_SCANPY);
    ow.mean_out = wmean; ow.mean_out_len = 2; ow.var_out = wvar; ow.var_out_len = 2; ow.std_out = wsd; ow.std_out_len = 2;
    CHECK(sc_stats_dense(&whole, &ow) == SC_STATUS_OK, "sc_stats_dense");
    CHECK(memcmp(mean, wmean, sizeof mean) == 0 && memcmp(var, wvar, sizeof var) == 0 && memcmp(sd, wsd, sizeof sd) == 0,
          "dense chunks %.17g %.17g vs whole %.17g %.17g", mean[1], sd[1], wmean[1], wsd[1]);
    CHECK(mean[0] == 4.0 / 3.0 && mean[1] == 2.0 / 3.0, "dense mean %.17g %.17g", mean[0], mean[1]);

    /* CSR chunk (rows 0..1 and 1..3 of the sparse matrix), one partition. */
    sc_options oc = defaults(SC_FLAVOR_SCANPY);
    size_t clen = 0;
    CHECK(sc_accumulator_len(&oc, 2, &clen) == SC_STATUS_OK && clen <= 64, "csr len");
    double cacc[64];
    CHECK(sc_accumulator_init(&oc, 2, cacc, clen) == SC_STATUS_OK, "csr init");
    int32_t p0[] = {0, 1}, p1[] = {0, 1, 2};
    sc_sparse c0 = {1, 2, p0, 2, indices, 1, data, 1, SC_INDEX_INT32, SC_VALUE_FLOAT64, 0};
    sc_sparse c1 = {2, 2, p1, 3, indices + 1, 2, data + 1, 2, SC_INDEX_INT32, SC_VALUE_FLOAT64, 0};
    CHECK(sc_accumulate_csr(&c0, &oc, cacc, clen) == SC_STATUS_OK && sc_accumulate_csr(&c1, &oc, cacc, clen) == SC_STATUS_OK,
          "csr chunks: %s", last_message());
    sc_options ocf = oc;
    ocf.mean_out = mean; ocf.mean_out_len = 2; ocf.std_out = sd; ocf.std_out_len = 2;
    CHECK(sc_accumulator_finalize(&ocf, 2, cacc, clen) == SC_STATUS_OK, "csr finalize");
    sc_sparse x = matrix();
    sc_options ocw = oc;
    ocw.mean_out = wmean; ocw.mean_out_len = 2; ocw.std_out = wsd; ocw.std_out_len = 2;
    CHECK(sc_stats_csr(&x, &ocw) == SC_STATUS_OK && memcmp(mean, wmean, sizeof mean) == 0 && memcmp(sd, wsd, sizeof sd) == 0,
          "csr chunks differ from the whole");

    /* Refused calls: the accumulator (and the dense output sentinel) untouched. */
    memcpy(acc_before, acc, sizeof acc);
    fill_sentinel();
    sc_dense narrow = {2, 3, dense_data, 6, SC_VALUE_FLOAT64, 0}; /* 3 genes (one would be refused first: numpy sums one column pairwise) */
    sc_sparse xn = {3, 1, indptr, 4, indices, 0, data, 0, SC_INDEX_INT32, SC_VALUE_FLOAT64, 0};
    int32_t pz[] = {0, 0, 0, 0};
    xn.indptr = pz;
    sc_options seurat = defaults(SC_FLAVOR_SEURAT);
    expect_acc(sc_accumulate_dense(NULL, &o, acc, len), SC_STATUS_NULL_POINTER, "dense acc: NULL matrix");
    expect_acc(sc_accumulate_dense(&whole, NULL, acc, len), SC_STATUS_NULL_POINTER, "dense acc: NULL options");
    expect_acc(sc_accumulate_dense(&whole, &o, NULL, len), SC_STATUS_NULL_POINTER, "dense acc: NULL accumulator");
    expect_acc(sc_accumulate_dense(&whole, &o, acc, len - 1), SC_STATUS_STATS_LENGTH, "dense acc: acc_len - 1");
    expect_acc(sc_accumulate_dense(&narrow, &o, acc, len), SC_STATUS_INVALID_ACCUMULATOR, "dense acc: other gene count");
    expect_acc(sc_accumulate_dense(&whole, &seurat, acc, len), SC_STATUS_UNSUPPORTED, "dense acc: Seurat");
    sc_dense wrong_type = whole; wrong_type.value_type = 5;
    expect_acc(sc_accumulate_dense(&wrong_type, &o, acc, len), SC_STATUS_INVALID_ENUM, "dense acc: bad value type");
    expect_acc(sc_accumulate_csr(&xn, &o, acc, len), SC_STATUS_INVALID_ACCUMULATOR, "csr acc: other gene count");
    sc_options o3 = o; o3.n_partitions = 3;
    expect_acc(sc_accumulate_dense(&whole, &o3, acc, len), SC_STATUS_INVALID_ACCUMULATOR, "dense acc: other n_partitions");
    double other[64];
    memcpy(other, acc, sizeof other);
    other[0] = 0.0; /* never initialised */
    expect_acc(sc_accumulator_merge(&o, 2, acc, len, other, len), SC_STATUS_INVALID_ACCUMULATOR, "merge: uninitialised other");
    sc_dense over = {2, 2, acc, 4, SC_VALUE_FLOAT64, 0};
    expect_acc(sc_accumulate_dense(&over, &o, acc, len), SC_STATUS_OVERLAP, "dense acc: accumulator over the data");
}

/* A forked child (R's mcparallel, Python's multiprocessing) must not wait on the parent's threads. */
static void test_fork(void) {
    /* Under valgrind the child sees the parent's vanished worker threads' memory as lost. */
    if (getenv("SCSCALE_TEST_NO_FORK")) return;
    sc_sparse x = matrix();
    sc_options o = defaults(SC_FLAVOR_SEURAT);
    sc_dense_out d = dense_out(6);
    CHECK(sc_scale_csr(&x, &o, &d) == SC_STATUS_OK, "before fork");
    pid_t pid = fork();
    if (pid == 0) {
        alarm(20); /* a hang becomes a SIGALRM death instead of a stuck test */
        double child_out[6];
        sc_dense_out cd = {child_out, 6, SC_VALUE_FLOAT64, 2, 0};
        _exit(sc_scale_csr(&x, &o, &cd) == SC_STATUS_OK && memcmp(child_out, out, sizeof child_out) == 0 ? 0 : 1);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "call in a forked child: %s",
          WIFSIGNALED(status) ? "killed (hung)" : "failed");
}

int main(void) {
    test_success();
    test_errors();
    test_accumulators();
    test_fork();
    printf("%d passed, %d failed\n", passed, failed);
    return failed != 0;
}
