/* Minimal reproducers of the scscale core bugs found by the reliability work (docs/reliability.md).
 * Build (from the repository root, after cargo build --release):
 *   cc -Iinclude fuzz/known_bugs.c -Ltarget/release -lscscale -Wl,-rpath,$PWD/target/release -o target/known_bugs
 * Run one case under an address-space limit, so that a bug cannot take the machine's memory:
 *   (ulimit -v 8000000; timeout 10 target/known_bugs N)      N = 1..8; 0 is a valid call */
#include "scscale.h"
#include <stdio.h>
#include <stdlib.h>
int main(int argc, char **argv) {
    int which = argc > 1 ? atoi(argv[1]) : 0;
    int32_t indptr[3] = {0, 2, 2}, indices[2] = {1, 0}, groups[2] = {0, 0};
    double data[2] = {1, 2}, out[8], mean[4];
    sc_sparse x = {2, 4, indptr, 3, indices, 2, data, 2, SC_INDEX_INT32, SC_VALUE_FLOAT64, 0};
    sc_options o;
    sc_options_default(&o, SC_FLAVOR_SCANPY);
    sc_dense_out d = {out, 8, SC_VALUE_FLOAT64, 4, 0};
    sc_values_out v = {out, 8, SC_VALUE_FLOAT64};
    sc_status s = SC_STATUS_OK;
    switch (which) {
    case 1: /* statistics of a 2 x 2^40 matrix whose first row is unsorted: abort (allocation failure) */
        x.n_cols = 1ull << 40; s = sc_stats_csr(&x, &o); break;
    case 2: /* same, 2^60 genes: PANIC "capacity overflow" instead of SIZE_OVERFLOW */
        x.n_cols = 1ull << 60; s = sc_stats_csr(&x, &o); break;
    case 3: /* scale, 2^40 genes, one unsorted row: abort before the 2^32-1 column check */
        x.n_cols = 1ull << 40; s = sc_scale_csr(&x, &o, &d); break;
    case 4: /* n_partitions = 2^32-1 (any valid matrix) */
        o.n_partitions = 0xFFFFFFFFu; s = sc_stats_csr(&x, &o); break;
    case 5: /* n_groups = 2^31-1 with two labelled rows */
        o.groups = groups; o.groups_len = 2; o.n_groups = 0x7FFFFFFF; s = sc_stats_csr(&x, &o); break;
    case 6: /* a values output whose length overflows the address space: wrong status */
        o.center = 0; v.data_len = SIZE_MAX / 4; s = sc_scale_csr_values(&x, &o, &v); break;
    case 7: { /* dense 2^62 x 0: nothing to do, runs (practically) forever */
        sc_dense xd = {1ull << 62, 0, data, 0, SC_VALUE_FLOAT64, 0};
        sc_dense_out dz = {out, 0, SC_VALUE_FLOAT64, 0, 0};
        s = sc_scale_dense(&xd, &o, &dz); break; }
    case 8: { /* CSC 2^62 cells x 0 genes: the same */
        int32_t p0[1] = {0};
        sc_sparse xc = {1ull << 62, 0, p0, 1, indices, 0, data, 0, SC_INDEX_INT32, SC_VALUE_FLOAT64, 0};
        sc_dense_out dz = {out, 0, SC_VALUE_FLOAT64, 0, 0};
        s = sc_scale_csc(&xc, &o, &dz); break; }
    default: s = sc_scale_csr(&x, &o, &d); (void)mean;
    }
    char msg[300];
    sc_last_error_message(msg, sizeof msg);
    printf("case %d: status %d %s: %s\n", which, s, sc_status_name(s), s ? msg : "");
    return 0;
}
