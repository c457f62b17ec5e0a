// Bitwise comparison of every scaling entry point against the plain reference (reference.hpp).
#include "common.hpp"

using namespace testing_util;

namespace {

struct Shape {
  std::size_t rows, cols;
  double density;
};
const Shape kShapes[] = {{1, 5, 0.5}, {2, 8, 0.6}, {37, 23, 0.3}, {150, 40, 0.15}};

template <class I, class V, class W>
void check_seurat(const ref::Csr<V>& m, ref::Opts r, uint32_t base, uint32_t threads, const std::string& what) {
  SCOPED_TRACE(what);
  ref::Stats want_stats;
  const auto want = ref::seurat_scale<W>(m, r, &want_stats);
  Typed<I, V> t(m, base);
  auto o = to_options_with_buffers(r);
  o.n_threads(threads);
  const std::size_t G = ref::n_groups(r) * m.n_cols;
  std::vector<double> mean(G), var(G), sd(G);
  o.mean_out(mean).var_out(var).std_out(sd);
  const auto got = scscale::scale_csr<W>(t.view(), o);
  ASSERT_EQ(ref::bitwise_diff(got, want), "");
  ASSERT_EQ(ref::bitwise_diff(mean, want_stats.mean), "") << "mean";
  ASSERT_EQ(ref::bitwise_diff(var, want_stats.var), "") << "var";
  ASSERT_EQ(ref::bitwise_diff(sd, want_stats.std), "") << "std";
}

template <class I, class V>
void seurat_suite() {
  int k = 0;
  for (const auto& s : kShapes)
    for (int cs = 0; cs < 4; ++cs)
      for (double clip : {10.0, 0.5, -1.0, std::numeric_limits<double>::quiet_NaN()})
        for (int variant = 0; variant < 4; ++variant, ++k) {
          const auto m = ref::random_csr<V>(1000 + k, s.rows, s.cols, s.density);
          ref::Opts r;
          r.center = cs & 1;
          r.scale = cs & 2;
          r.clip = !std::isnan(clip);
          r.max_value = r.clip ? clip : 10.0;
          if (variant & 1) {
            r.groups = some_groups(s.rows, k);
            r.n_groups = 3;
          }
          if (variant & 2) r.column_map = some_column_map(s.cols);
          const uint32_t base = k % 2, threads = 1 + (k / 2) % 2;
          const std::string what = "seurat case " + std::to_string(k) + " rows=" + std::to_string(s.rows) +
                                   " center=" + std::to_string(r.center) + " scale=" + std::to_string(r.scale) +
                                   " clip=" + std::to_string(clip) + " variant=" + std::to_string(variant);
          check_seurat<I, V, double>(m, r, base, threads, what);
          if (k % 5 == 0) check_seurat<I, V, float>(m, r, base, threads, what + " (float out)");
        }
}

}  // namespace

TEST(Seurat, MatchesReferenceInt32Double) { seurat_suite<int32_t, double>(); }
TEST(Seurat, MatchesReferenceInt64Double) { seurat_suite<int64_t, double>(); }
TEST(Seurat, MatchesReferenceInt32Float) { seurat_suite<int32_t, float>(); }
TEST(Seurat, MatchesReferenceInt64Float) { seurat_suite<int64_t, float>(); }

namespace {

template <class I, class V>
void scanpy_sparse_suite(bool csc) {
  int k = 0;
  for (const auto& s : kShapes)
    for (unsigned T : {1u, 2u, 3u, 4u})
      for (bool center : {true, false})
        for (double clip : {std::numeric_limits<double>::quiet_NaN(), 10.0, 0.5})
          for (int variant = 0; variant < 4; ++variant, ++k) {
            if (csc && T > 1) continue;  // CSC statistics do not depend on T
            const bool messy = !csc && (k % 3 == 0);  // unsorted indices and duplicates (CSR only)
            const auto m = ref::random_csr<V>(5000 + k, s.rows, s.cols, s.density, messy, messy);
            ref::Opts r;
            r.scanpy = true;
            r.center = center;
            r.T = T;
            r.clip = !std::isnan(clip);
            r.max_value = r.clip ? clip : 10.0;
            if (variant & 1) {
              r.groups = some_groups(s.rows, k);
              r.n_groups = 3;
            }
            if (variant & 2) r.column_map = some_column_map(s.cols);
            const uint32_t base = k % 2;
            SCOPED_TRACE("scanpy " + std::string(csc ? "csc" : "csr") + " case " + std::to_string(k) + " T=" +
                         std::to_string(T) + " center=" + std::to_string(center) + " clip=" + std::to_string(clip) +
                         " variant=" + std::to_string(variant) + " messy=" + std::to_string(messy));
            const auto src = csc ? ref::to_csc(m) : m;
            ref::Stats want_stats;
            const auto want = ref::scanpy_sparse_scale<double>(src, r, csc, &want_stats);
            Typed<I, V> t(src, base);
            auto o = to_options_with_buffers(r);
            o.n_threads(1 + k % 2);
            const std::size_t G = ref::n_groups(r) * m.n_cols;
            std::vector<double> mean(G), sd(G);
            o.mean_out(mean).std_out(sd);
            const auto got = csc ? scscale::scale_csc(t.view(), o) : scscale::scale_csr(t.view(), o);
            ASSERT_EQ(ref::bitwise_diff(got, want), "");
            if (csc) {
              // Column-major: the same values, transposed.
              const auto cm = scscale::scale_csc_colmajor(t.view(), o);
              const std::size_t n_out = cm.size() / std::max<std::size_t>(m.n_rows, 1);
              std::vector<double> back(cm.size());
              for (std::size_t r = 0; r < m.n_rows; r++)
                for (std::size_t j = 0; j < n_out; j++) back[r * n_out + j] = cm[j * m.n_rows + r];
              ASSERT_EQ(ref::bitwise_diff(back, want), "") << "column-major";
            }
            ASSERT_EQ(ref::bitwise_diff(mean, want_stats.mean), "") << "mean";
            ASSERT_EQ(ref::bitwise_diff(sd, want_stats.std), "") << "std";

            // zero_center=False same-pattern output (CSC: no groups, the core refuses them).
            if (!center && !(csc && !r.groups.empty())) {
              ref::Opts rv = r;
              rv.column_map.clear();
              auto ov = to_options_with_buffers(rv);
              const auto want_v = ref::scanpy_values<double>(src, rv, csc);
              const auto got_v =
                  csc ? scscale::scale_csc_values(t.view(), ov) : scscale::scale_csr_values(t.view(), ov);
              ASSERT_EQ(ref::bitwise_diff(got_v, want_v), "") << "values";
              // In place, in the input dtype.
              std::vector<V> inplace = t.data;
              const auto v_view = t.view();
              scscale::sparse_view<I, V> iv = v_view;
              iv.data = scscale::span<const V>(inplace.data(), inplace.size());
              if (csc) scscale::scale_csc_values(iv, ov, scscale::span<V>(inplace));
              else scscale::scale_csr_values(iv, ov, scscale::span<V>(inplace));
              ASSERT_EQ(ref::bitwise_diff(inplace, ref::scanpy_values<V>(src, rv, csc)), "") << "in place values";
            }
          }
}

}  // namespace

TEST(ScanpyCsr, MatchesReferenceInt32Float) { scanpy_sparse_suite<int32_t, float>(false); }
TEST(ScanpyCsr, MatchesReferenceInt64Double) { scanpy_sparse_suite<int64_t, double>(false); }
TEST(ScanpyCsr, MatchesReferenceInt64Float) { scanpy_sparse_suite<int64_t, float>(false); }
TEST(ScanpyCsc, MatchesReferenceInt32Float) { scanpy_sparse_suite<int32_t, float>(true); }
TEST(ScanpyCsc, MatchesReferenceInt64Double) { scanpy_sparse_suite<int64_t, double>(true); }

namespace {

template <class V>
void scanpy_dense_suite() {
  int k = 0;
  for (const auto& s : kShapes)
    for (bool center : {true, false})
      for (double clip : {std::numeric_limits<double>::quiet_NaN(), 10.0, 0.5})
        for (bool grouped : {false, true}) {
          ++k;
          const auto sp = ref::random_csr<V>(9000 + k, s.rows, s.cols, s.density);
          const auto x = ref::densify(sp, false);
          ref::Opts r;
          r.scanpy = true;
          r.center = center;
          r.clip = !std::isnan(clip);
          r.max_value = r.clip ? clip : 10.0;
          if (grouped) {
            r.groups = some_groups(s.rows, k);
            r.n_groups = 3;
          }
          SCOPED_TRACE("dense case " + std::to_string(k));
          const auto want = ref::scanpy_dense_scale(x, s.rows, s.cols, r);
          const auto o = to_options_with_buffers(r);
          const scscale::dense_view<V> xv{s.rows, s.cols, scscale::span<const V>(x.data(), x.size()), 0};
          ASSERT_EQ(ref::bitwise_diff(scscale::scale_dense<V>(xv, o), want), "");
          // In place.
          std::vector<V> buf = x;
          const scscale::dense_view<V> bv{s.rows, s.cols, scscale::span<const V>(buf.data(), buf.size()), 0};
          scscale::scale_dense(bv, o, scscale::dense_out<V>{scscale::span<V>(buf), s.cols, 0});
          ASSERT_EQ(ref::bitwise_diff(buf, want), "") << "in place";
          // Strided input and output (leading dimension cols + 3).
          const std::size_t ld = s.cols + 3;
          std::vector<V> xs(s.rows * ld, V(-7)), os(s.rows * ld, V(-9));
          for (std::size_t i = 0; i < s.rows; ++i)
            for (std::size_t c = 0; c < s.cols; ++c) xs[i * ld + c] = x[i * s.cols + c];
          scscale::scale_dense(scscale::dense_view<V>{s.rows, s.cols, scscale::span<const V>(xs.data(), xs.size()), ld},
                               o, scscale::dense_out<V>{scscale::span<V>(os), s.cols, ld});
          for (std::size_t i = 0; i < s.rows; ++i)
            for (std::size_t c = 0; c < ld; ++c) {
              const V w = c < s.cols ? want[i * s.cols + c] : V(-9);
              ASSERT_EQ(ref::bits(os[i * ld + c]), ref::bits(w)) << "strided row " << i << " col " << c;
            }
          const auto st = scscale::stats_dense(xv, o);
          const auto want_st = ref::scanpy_dense_stats(x, s.rows, s.cols, r);
          ASSERT_EQ(ref::bitwise_diff(st.mean, want_st.mean), "");
          ASSERT_EQ(ref::bitwise_diff(st.var, want_st.var), "");
          ASSERT_EQ(ref::bitwise_diff(st.std, want_st.std), "");
        }
}

}  // namespace

TEST(ScanpyDense, MatchesReferenceFloat) { scanpy_dense_suite<float>(); }
TEST(ScanpyDense, MatchesReferenceDouble) { scanpy_dense_suite<double>(); }

TEST(Stats, CsrAndCscMatchReference) {
  const auto m = ref::random_csr<float>(77, 64, 30, 0.3);
  Typed<int32_t, float> t(m);
  for (unsigned T : {1u, 3u}) {
    ref::Opts r;
    r.scanpy = true;
    r.T = T;
    const auto want = ref::scanpy_csr_stats(m, r);
    const auto got = scscale::stats_csr(t.view(), to_options(r));
    EXPECT_EQ(ref::bitwise_diff(got.mean, want.mean), "");
    EXPECT_EQ(ref::bitwise_diff(got.var, want.var), "");
    EXPECT_EQ(ref::bitwise_diff(got.std, want.std), "");
  }
  ref::Opts s;  // Seurat
  const auto want_s = ref::seurat_stats(m, s);
  const auto got_s = scscale::stats_csr(t.view(), to_options(s));
  EXPECT_EQ(ref::bitwise_diff(got_s.var, want_s.var), "");
  EXPECT_EQ(ref::bitwise_diff(got_s.std, want_s.std), "");
  const auto c = ref::to_csc(m);
  Typed<int64_t, float> tc(c, 1);
  ref::Opts r;
  r.scanpy = true;
  const auto want_c = ref::scanpy_csc_stats(c, r);
  const auto got_c = scscale::stats_csc(tc.view(), to_options(r));
  EXPECT_EQ(ref::bitwise_diff(got_c.var, want_c.var), "");
}

// The reference must be able to tell the arithmetic apart, or the bitwise tests prove nothing.
TEST(ReferenceSensitivity, PartitionCountChangesScanpyBits) {
  // Full-mantissa f64 values: sums of f32 values in f64 are often exact and order-free.
  const auto m = ref::random_csr<double>(4242, 150, 40, 0.3);
  ref::Opts r1, r2;
  r1.scanpy = r2.scanpy = true;
  r2.T = 2;
  EXPECT_NE(ref::bitwise_diff(ref::scanpy_sparse_scale<double>(m, r1, false),
                              ref::scanpy_sparse_scale<double>(m, r2, false)),
            "");
  Typed<int32_t, double> t(m);
  EXPECT_NE(ref::bitwise_diff(scscale::scale_csr(t.view(), to_options(r2)),
                              ref::scanpy_sparse_scale<double>(m, r1, false)),
            "");
}

TEST(ReferenceSensitivity, SeuratDiffersFromScanpy) {
  const auto m = ref::random_csr<double>(4343, 37, 23, 0.3);
  ref::Opts seurat, scanpy;
  scanpy.scanpy = true;
  scanpy.clip = seurat.clip = false;
  Typed<int32_t, double> t(m);
  EXPECT_NE(ref::bitwise_diff(scscale::scale_csr(t.view(), to_options(seurat)),
                              ref::scanpy_sparse_scale<double>(m, scanpy, false)),
            "");
}

// Julia's SparseMatrixCSC genes x cells: 1-based Int64 colptr/rowval are CSR cells x genes.
TEST(Layout, JuliaOneBasedInt64EqualsZeroBased) {
  const auto m = ref::random_csr<double>(31, 37, 23, 0.3);
  Typed<int64_t, double> zero(m, 0), one(m, 1);
  const scscale::options o(scscale::flavor::seurat);
  EXPECT_EQ(ref::bitwise_diff(scscale::scale_csr(one.view(), o), scscale::scale_csr(zero.view(), o)), "");
  EXPECT_EQ(ref::bitwise_diff(scscale::scale_csr(one.view(), o), ref::seurat_scale<double>(m, ref::Opts{})), "");
}
