// Every status the library can be made to return through the wrapper, with its message, and the
// promise that a failed call writes nothing.
#include <cstring>

#include "common.hpp"

namespace {

struct Small {  // 3 cells x 4 genes
  std::vector<int32_t> indptr{0, 2, 3, 5};
  std::vector<int32_t> indices{0, 2, 1, 0, 3};
  std::vector<double> data{1, 2, 3, 4, 5};
  scscale::sparse_view<int32_t, double> view() const { return scscale::make_sparse(3, 4, indptr, indices, data); }
};

// Runs f and returns the status of the scscale::error it threw (SC_STATUS_OK if none), checking
// that the exception carries the library's message.
template <class F>
sc_status status_of(F&& f, const char* must_mention = nullptr) {
  try {
    f();
  } catch (const scscale::error& e) {
    EXPECT_FALSE(e.message().empty());
    EXPECT_NE(std::string(e.what()).find(e.name()), std::string::npos) << e.what();
    if (must_mention) {
      EXPECT_NE(e.message().find(must_mention), std::string::npos) << e.message();
    }
    return e.status();
  }
  return SC_STATUS_OK;
}

scscale::options seurat() { return scscale::options(scscale::flavor::seurat); }

}  // namespace

TEST(Errors, ValidCallSucceeds) {
  Small s;
  EXPECT_EQ(status_of([&] { scscale::scale_csr(s.view(), seurat()); }), SC_STATUS_OK);
}

TEST(Errors, NullPointer) {
  Small s;
  const sc_options o = seurat().c();
  std::vector<double> out(12);
  const sc_dense_out co{out.data(), out.size(), SC_VALUE_FLOAT64, 4, 0};
  EXPECT_EQ(status_of([&] { scscale::check(sc_scale_csr(nullptr, &o, &co)); }, "x"), SC_STATUS_NULL_POINTER);
  const sc_sparse cx = s.view().c();
  EXPECT_EQ(status_of([&] { scscale::check(sc_scale_csr(&cx, nullptr, &co)); }), SC_STATUS_NULL_POINTER);
  EXPECT_EQ(status_of([&] { scscale::check(sc_scale_csr(&cx, &o, nullptr)); }), SC_STATUS_NULL_POINTER);
  auto v = s.view();
  v.data = scscale::span<const double>(nullptr, 5);
  EXPECT_EQ(status_of([&] { scscale::scale_csr(v, seurat()); }, "data"), SC_STATUS_NULL_POINTER);
  EXPECT_EQ(status_of([&] { scscale::check(sc_options_default(nullptr, SC_FLAVOR_SEURAT)); }), SC_STATUS_NULL_POINTER);
}

TEST(Errors, InvalidEnum) {
  EXPECT_EQ(status_of([] { scscale::options o(static_cast<scscale::flavor>(7)); }), SC_STATUS_INVALID_ENUM);
  Small s;
  sc_sparse cx = s.view().c();
  cx.index_type = 5;
  std::vector<double> out(12);
  const sc_dense_out co{out.data(), out.size(), SC_VALUE_FLOAT64, 4, 0};
  const sc_options o = seurat().c();
  EXPECT_EQ(status_of([&] { scscale::check(sc_scale_csr(&cx, &o, &co)); }, "index_type"), SC_STATUS_INVALID_ENUM);
  cx = s.view().c();
  cx.value_type = 9;
  EXPECT_EQ(status_of([&] { scscale::check(sc_scale_csr(&cx, &o, &co)); }, "value_type"), SC_STATUS_INVALID_ENUM);
  sc_options bad = o;
  bad.flavor = 4;  // 0..3 are flavors
  cx = s.view().c();
  EXPECT_EQ(status_of([&] { scscale::check(sc_scale_csr(&cx, &bad, &co)); }, "flavor"), SC_STATUS_INVALID_ENUM);
}

TEST(Errors, SizeOverflow) {
  Small s;
  auto v = s.view();
  v.data = scscale::span<const double>(s.data.data(), SIZE_MAX / 4);  // never dereferenced
  v.indices = scscale::span<const int32_t>(s.indices.data(), SIZE_MAX / 4);
  EXPECT_EQ(status_of([&] { scscale::scale_csr(v, seurat()); }), SC_STATUS_SIZE_OVERFLOW);
}

TEST(Errors, BadIndptr) {
  Small s;
  {
    auto v = s.view();
    v.indptr = scscale::span<const int32_t>(s.indptr.data(), 3);
    EXPECT_EQ(status_of([&] { scscale::scale_csr(v, seurat()); }, "indptr"), SC_STATUS_INDPTR_LENGTH);
  }
  {
    Small b;
    b.indptr[0] = 1;
    EXPECT_EQ(status_of([&] { scscale::scale_csr(b.view(), seurat()); }, "indptr"), SC_STATUS_INDPTR_START);
  }
  {
    Small b;
    b.indptr = {0, 3, 2, 5};
    EXPECT_EQ(status_of([&] { scscale::scale_csr(b.view(), seurat()); }, "indptr"), SC_STATUS_INDPTR_NOT_MONOTONE);
  }
  {
    Small b;
    b.indptr = {0, 2, 3, 4};
    EXPECT_EQ(status_of([&] { scscale::scale_csr(b.view(), seurat()); }, "indptr"), SC_STATUS_INDPTR_END);
  }
  {
    // 1-based memory declared 0-based: indptr[0] is 1.
    Small b;
    for (auto& p : b.indptr) ++p;
    EXPECT_EQ(status_of([&] { scscale::scale_csr(b.view(), seurat()); }), SC_STATUS_INDPTR_START);
  }
}

TEST(Errors, LengthMismatch) {
  Small s;
  auto v = s.view();
  v.indices = scscale::span<const int32_t>(s.indices.data(), 4);
  EXPECT_EQ(status_of([&] { scscale::scale_csr(v, seurat()); }), SC_STATUS_LENGTH_MISMATCH);
}

TEST(Errors, IndexOutOfRange) {
  Small b;
  b.indices[4] = 4;
  EXPECT_EQ(status_of([&] { scscale::scale_csr(b.view(), seurat()); }, "indices[4]"), SC_STATUS_INDEX_OUT_OF_RANGE);
  Small n;
  n.indices[1] = -1;
  EXPECT_EQ(status_of([&] { scscale::scale_csr(n.view(), seurat()); }), SC_STATUS_INDEX_OUT_OF_RANGE);
  // 1-based with an index 0.
  Small one;
  for (auto& p : one.indptr) ++p;
  for (auto& i : one.indices) ++i;
  one.indices[0] = 0;
  auto v = one.view();
  v.index_base = 1;
  EXPECT_EQ(status_of([&] { scscale::scale_csr(v, seurat()); }), SC_STATUS_INDEX_OUT_OF_RANGE);
}

TEST(Errors, DuplicateEntrySeurat) {
  Small b;
  b.indices = {0, 0, 1, 0, 3};
  EXPECT_EQ(status_of([&] { scscale::scale_csr(b.view(), seurat()); }), SC_STATUS_DUPLICATE_ENTRY);
  // Scanpy CSR honours duplicates (scipy sums them).
  EXPECT_EQ(status_of([&] { scscale::scale_csr(b.view(), scscale::options(scscale::flavor::scanpy)); }),
            SC_STATUS_OK);
}

TEST(Errors, OutputTooSmallAndStride) {
  Small s;
  std::vector<double> out(11);
  EXPECT_EQ(status_of([&] { scscale::scale_csr(s.view(), seurat(), scscale::dense_out<double>{out, 4, 0}); },
                      "out.data_len"),
            SC_STATUS_OUTPUT_TOO_SMALL);
  std::vector<double> big(100);
  EXPECT_EQ(status_of([&] { scscale::scale_csr(s.view(), seurat(), scscale::dense_out<double>{big, 4, 3}); }),
            SC_STATUS_INVALID_STRIDE);
  std::vector<double> vals(4);
  EXPECT_EQ(status_of([&] {
              scscale::scale_csr_values(s.view(), scscale::options(scscale::flavor::scanpy).center(false),
                                        scscale::span<double>(vals));
            }),
            SC_STATUS_OUTPUT_TOO_SMALL);
}

TEST(Errors, InvalidOption) {
  Small s;
  EXPECT_EQ(status_of([&] { scscale::scale_csr(s.view(), scscale::options(scscale::flavor::scanpy).n_partitions(0)); },
                      "n_partitions"),
            SC_STATUS_INVALID_OPTION);
  EXPECT_EQ(status_of([&] { scscale::scale_csr(s.view(), seurat().clip(std::nan(""))); }), SC_STATUS_INVALID_OPTION);
  EXPECT_EQ(status_of([&] { scscale::scale_csr(s.view(), scscale::options(scscale::flavor::scanpy).scale(false)); }),
            SC_STATUS_INVALID_OPTION);
  EXPECT_EQ(status_of([&] { scscale::scale_csr(s.view(), seurat().n_threads(100000)); }), SC_STATUS_INVALID_OPTION);
}

TEST(Errors, Groups) {
  Small s;
  std::vector<int32_t> short_groups{0, 1};
  EXPECT_EQ(status_of([&] { scscale::scale_csr(s.view(), seurat().groups(short_groups, 2)); }, "groups_len"),
            SC_STATUS_GROUPS_LENGTH);
  std::vector<int32_t> bad{0, 3, 1};
  EXPECT_EQ(status_of([&] { scscale::scale_csr(s.view(), seurat().groups(bad, 3)); }, "groups[1]"),
            SC_STATUS_INVALID_GROUP);
  std::vector<int32_t> neg{0, -2, 1};
  EXPECT_EQ(status_of([&] { scscale::scale_csr(s.view(), seurat().groups(neg, 3)); }), SC_STATUS_INVALID_GROUP);
  std::vector<int32_t> ok{0, 0, 0};
  EXPECT_EQ(status_of([&] { scscale::scale_csr(s.view(), seurat().groups(ok, 0)); }), SC_STATUS_INVALID_OPTION);
}

TEST(Errors, ColumnMap) {
  Small s;
  std::vector<int64_t> short_map{0, 1, 2};
  EXPECT_EQ(status_of([&] { scscale::scale_csr(s.view(), seurat().column_map(short_map)); }, "column_map_len"),
            SC_STATUS_COLUMN_MAP_LENGTH);
  std::vector<int64_t> twice{0, 0, -1, 1};
  EXPECT_EQ(status_of([&] { scscale::scale_csr(s.view(), seurat().column_map(twice)); }), SC_STATUS_INVALID_COLUMN_MAP);
  // A gap: 3 kept genes but column 3 of 3 does not exist.
  std::vector<int64_t> gap{0, 1, 3, -1};
  EXPECT_EQ(status_of([&] { scscale::scale_csr(s.view(), seurat().column_map(gap)); }), SC_STATUS_INVALID_COLUMN_MAP);
}

TEST(Errors, StatsLength) {
  Small s;
  std::vector<double> mean(3);
  EXPECT_EQ(status_of([&] { scscale::scale_csr(s.view(), seurat().mean_out(mean)); }, "mean_out_len"),
            SC_STATUS_STATS_LENGTH);
  std::vector<double> gm(4, 0.0), gs(3, 1.0);
  EXPECT_EQ(status_of([&] { scscale::scale_csr(s.view(), seurat().given_stats(gm, gs)); }), SC_STATUS_STATS_LENGTH);
}

TEST(Errors, Unsupported) {
  Small s;
  // A valid CSC 3 x 4 (indptr over the 4 genes): Seurat has no CSC path.
  const std::vector<int32_t> cp{0, 2, 3, 4, 5}, ci{0, 2, 1, 0, 2};
  const auto csc = scscale::make_sparse(3, 4, cp, ci, s.data);
  EXPECT_EQ(status_of([&] { scscale::scale_csc(csc, scscale::options(scscale::flavor::scanpy)); }), SC_STATUS_OK);
  EXPECT_EQ(status_of([&] { scscale::scale_csc(csc, seurat()); }, "Seurat"), SC_STATUS_UNSUPPORTED);
  // Seurat's dense path (FastRowScale) reads R's double matrices: float32 input is not Seurat's.
  std::vector<float> x(12, 1.0f);
  const scscale::dense_view<float> d{3, 4, scscale::span<const float>(x.data(), x.size()), 0};
  EXPECT_EQ(status_of([&] { scscale::scale_dense(d, seurat()); }), SC_STATUS_UNSUPPORTED);
  EXPECT_EQ(status_of([&] { scscale::scale_csr_values(s.view(), seurat()); }), SC_STATUS_UNSUPPORTED);
}

TEST(Errors, CancelledByProgress) {
  Small s;
  int calls = 0;
  auto o = seurat().progress([&](uint64_t, uint64_t) { return ++calls < 1; });
  EXPECT_EQ(status_of([&] { scscale::scale_csr(s.view(), o); }, "cancelled"), SC_STATUS_CANCELLED);
  EXPECT_GE(calls, 1);
}

TEST(Errors, Misaligned) {
  Small s;
  alignas(8) unsigned char raw[64] = {};
  std::memcpy(raw + 1, s.data.data(), 5 * sizeof(double));
  auto v = s.view();
  v.data = scscale::span<const double>(reinterpret_cast<const double*>(raw + 1), 5);
  EXPECT_EQ(status_of([&] { scscale::scale_csr(v, seurat()); }), SC_STATUS_MISALIGNED);
}

TEST(Errors, Overlap) {
  Small s;
  std::vector<double> buf(20, 0.0);
  std::copy(s.data.begin(), s.data.end(), buf.begin());
  auto v = s.view();
  v.data = scscale::span<const double>(buf.data(), 5);
  EXPECT_EQ(status_of([&] {
              scscale::scale_csr(v, seurat(), scscale::dense_out<double>{scscale::span<double>(buf.data() + 2, 12), 4, 0});
            }),
            SC_STATUS_OVERLAP);
}

TEST(Errors, FailedCallWritesNothing) {
  Small s;
  std::vector<double> out(12, -123.0), mean(4, -5.0);
  std::vector<int32_t> bad{0, 9, 0};
  auto o = seurat().groups(bad, 2).mean_out(mean);
  EXPECT_EQ(status_of([&] { scscale::scale_csr(s.view(), o, scscale::dense_out<double>{out, 4, 0}); }),
            SC_STATUS_INVALID_GROUP);
  for (double v : out) EXPECT_EQ(v, -123.0);
  for (double v : mean) EXPECT_EQ(v, -5.0);
}

TEST(Errors, MessageIsPerThreadAndCurrent) {
  Small b;
  b.indptr = {0, 2, 3, 4};
  try {
    scscale::scale_csr(b.view(), seurat());
    FAIL() << "no exception";
  } catch (const scscale::error& e) {
    EXPECT_EQ(e.status(), SC_STATUS_INDPTR_END);
    EXPECT_EQ(e.message(), scscale::last_error_message());
    EXPECT_STREQ(e.name(), "SC_STATUS_INDPTR_END");
  }
  EXPECT_STREQ(sc_status_name(12345), "SC_STATUS_UNKNOWN");
}

// SC_STATUS_THREAD_POOL: in a forked child whose address space is capped just above its current
// size, a new pool cannot map its thread stacks. (Valgrind manages the address space itself.)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#endif
#include <sys/resource.h>
#include <unistd.h>

namespace {
[[noreturn]] void thread_pool_child() {
  Small s;
  long pages = 0;
  if (FILE* f = std::fopen("/proc/self/statm", "r")) {
    if (std::fscanf(f, "%ld", &pages) != 1) pages = 0;
    std::fclose(f);
  }
  const rlim_t cap = rlim_t(pages) * rlim_t(sysconf(_SC_PAGESIZE)) + (rlim_t(8) << 20);
  const struct rlimit rl{cap, cap};
  if (pages == 0 || setrlimit(RLIMIT_AS, &rl) != 0) _exit(3);
  try {
    scscale::scale_csr(s.view(), seurat().n_threads(97));  // a pool size no test has built
  } catch (const scscale::error& e) {
    _exit(e.status() == SC_STATUS_THREAD_POOL ? 0 : 10 + int(e.status()));
  } catch (...) {
    _exit(4);
  }
  _exit(5);
}
}  // namespace

TEST(ErrorsDeathTest, ThreadPool) {
#ifdef RUNNING_ON_VALGRIND
  if (RUNNING_ON_VALGRIND) GTEST_SKIP() << "address-space limits do not apply under valgrind";
#endif
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(thread_pool_child(), ::testing::ExitedWithCode(0), "");
}
