// Wrapper-level behaviour: version checks, Eigen overloads, progress callbacks. Including Eigen
// first turns on scscale.hpp's Eigen overloads in this translation unit only.
#include <Eigen/SparseCore>

#include "common.hpp"

using namespace testing_util;

TEST(Api, VersionAndAbi) {
  EXPECT_STREQ(scscale::version(), SCSCALE_VERSION);
  EXPECT_EQ(scscale::abi_version(), uint32_t(SC_ABI_VERSION));
  EXPECT_NO_THROW(scscale::check_abi());
}

TEST(Api, SpanFromContainers) {
  std::vector<double> v{1, 2, 3};
  scscale::span<double> a(v);
  scscale::span<const double> b = a;
  const std::vector<double>& cv = v;
  scscale::span<const double> c(cv);
  EXPECT_EQ(b.size(), 3u);
  EXPECT_EQ(c.data(), v.data());
  double arr[4] = {};
  EXPECT_EQ(scscale::span<double>(arr).size(), 4u);
}

TEST(Api, ThreadCountNeverChangesBits) {
  const auto m = ref::random_csr<float>(555, 300, 50, 0.2);
  Typed<int32_t, float> t(m);
  for (auto f : {scscale::flavor::seurat, scscale::flavor::scanpy}) {
    scscale::options o(f);
    const auto one = scscale::scale_csr(t.view(), o.n_threads(1));
    const auto two = scscale::scale_csr(t.view(), o.n_threads(2));
    const auto all = scscale::scale_csr(t.view(), o.n_threads(0));
    EXPECT_EQ(ref::bitwise_diff(one, two), "");
    EXPECT_EQ(ref::bitwise_diff(one, all), "");
  }
}

TEST(Api, ProgressReportsUpToTotal) {
  const auto m = ref::random_csr<double>(556, 500, 20, 0.2);
  Typed<int64_t, double> t(m);
  uint64_t last_done = 0, last_total = 0;
  int calls = 0;
  auto o = scscale::options(scscale::flavor::seurat).progress([&](uint64_t done, uint64_t total) {
    EXPECT_GE(done, last_done);
    last_done = done;
    last_total = total;
    ++calls;
    return true;
  });
  const auto got = scscale::scale_csr(t.view(), o);
  EXPECT_GT(calls, 1);
  EXPECT_EQ(last_done, last_total);
  EXPECT_EQ(ref::bitwise_diff(got, ref::seurat_scale<double>(m, ref::Opts{})), "");
}

TEST(Api, ExceptionInProgressPropagates) {
  const auto m = ref::random_csr<double>(557, 100, 10, 0.2);
  Typed<int32_t, double> t(m);
  auto o = scscale::options(scscale::flavor::seurat).progress([](uint64_t done, uint64_t) -> bool {
    if (done > 0) throw std::logic_error("stop from the callback");
    return true;
  });
  EXPECT_THROW(scscale::scale_csr(t.view(), o), std::logic_error);
}

TEST(Api, GivenStatsAreUsedVerbatim) {
  const auto m = ref::random_csr<double>(558, 40, 9, 0.3);
  Typed<int32_t, double> t(m);
  std::vector<double> mean(9, 1.0), sd(9, 2.0);
  const auto got = scscale::scale_csr(t.view(), scscale::options(scscale::flavor::seurat).no_clip().given_stats(mean, sd));
  const auto dense = ref::densify(m, false);
  for (std::size_t i = 0; i < got.size(); ++i) ASSERT_EQ(got[i], (dense[i] - 1.0) / 2.0) << i;
}

// Eigen: RowMajor cells x genes is CSR (both flavors); ColMajor is CSC (Scanpy).
template <class I>
Eigen::SparseMatrix<double, Eigen::RowMajor, I> to_eigen(const ref::Csr<double>& m) {
  std::vector<Eigen::Triplet<double, I>> trip;
  for (std::size_t r = 0; r < m.n_rows; ++r)
    for (int64_t j = m.indptr[r]; j < m.indptr[r + 1]; ++j) trip.emplace_back(I(r), I(m.indices[j]), m.data[j]);
  Eigen::SparseMatrix<double, Eigen::RowMajor, I> e(Eigen::Index(m.n_rows), Eigen::Index(m.n_cols));
  e.setFromTriplets(trip.begin(), trip.end());  // keeps explicit zeros
  e.makeCompressed();
  return e;
}

TEST(Eigen, RowMajorSeuratAndScanpy) {
  const auto m = ref::random_csr<double>(600, 60, 17, 0.3);
  const auto e32 = to_eigen<int>(m);
  const auto e64 = to_eigen<long>(m);
  const auto want = ref::seurat_scale<double>(m, ref::Opts{});
  const auto got = scscale::scale(e32, scscale::options(scscale::flavor::seurat));
  ASSERT_EQ(got.rows(), 60);
  ASSERT_EQ(got.cols(), 17);
  EXPECT_EQ(ref::bitwise_diff(std::vector<double>(got.data(), got.data() + got.size()), want), "");
  const auto got64 = scscale::scale(e64, scscale::options(scscale::flavor::seurat));
  EXPECT_EQ(ref::bitwise_diff(std::vector<double>(got64.data(), got64.data() + got64.size()), want), "");

  ref::Opts sp;
  sp.scanpy = true;
  sp.clip = true;
  sp.max_value = 1.5;
  sp.T = 2;
  const auto want_sp = ref::scanpy_sparse_scale<float>(m, sp, false);
  const auto got_sp = scscale::scale<float>(e32, to_options(sp));
  EXPECT_EQ(ref::bitwise_diff(std::vector<float>(got_sp.data(), got_sp.data() + got_sp.size()), want_sp), "");
}

TEST(Eigen, ColMajorIsScanpyCsc) {
  const auto m = ref::random_csr<double>(601, 60, 17, 0.3);
  Eigen::SparseMatrix<double, Eigen::ColMajor, int> c = to_eigen<int>(m);
  c.makeCompressed();
  ref::Opts sp;
  sp.scanpy = true;
  const auto want = ref::scanpy_sparse_scale<double>(ref::to_csc(m), sp, true);
  const auto got = scscale::scale(c, to_options(sp));
  EXPECT_EQ(ref::bitwise_diff(std::vector<double>(got.data(), got.data() + got.size()), want), "");
  try {
    scscale::scale(c, scscale::options(scscale::flavor::seurat));
    FAIL() << "Seurat on CSC must throw";
  } catch (const scscale::error& e) {
    EXPECT_EQ(e.status(), SC_STATUS_UNSUPPORTED);
  }
}

TEST(Eigen, UncompressedIsRefused) {
  Eigen::SparseMatrix<double, Eigen::RowMajor> e(3, 3);
  e.insert(0, 0) = 1.0;  // insert() leaves the matrix uncompressed
  ASSERT_FALSE(e.isCompressed());
  try {
    scscale::scale(e, scscale::options(scscale::flavor::seurat));
    FAIL() << "no exception";
  } catch (const scscale::error& err) {
    EXPECT_EQ(err.status(), SC_STATUS_UNSUPPORTED);
    EXPECT_NE(err.message().find("makeCompressed"), std::string::npos);
  }
}
