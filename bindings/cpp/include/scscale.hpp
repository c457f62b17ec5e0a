// scscale.hpp: header-only C++17 wrapper over the C ABI in scscale.h.
//
// Matrices are borrowed through pointer+length views (scscale::span); failures throw
// scscale::error carrying the sc_status and the library's message. Every function is a thin,
// validated-by-the-library call: nothing here re-implements arithmetic.
//
// Eigen: include <Eigen/SparseCore> before this header (or define SCSCALE_EIGEN) to get
// scscale::scale(const Eigen::SparseMatrix&, ...).
#ifndef SCSCALE_HPP
#define SCSCALE_HPP

#include "scscale.h"

#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#if defined(SCSCALE_EIGEN) && !defined(EIGEN_SPARSECORE_MODULE_H)
#include <Eigen/SparseCore>
#endif
#if defined(EIGEN_SPARSECORE_MODULE_H)
#include <Eigen/Core>
#define SCSCALE_HAS_EIGEN 1
#endif

namespace scscale {

// ---------------------------------------------------------------------------------------------
// span: a non-owning pointer + length (std::span is C++20).

template <class T>
class span;

namespace detail {
template <class T>
struct is_span : std::false_type {};
template <class T>
struct is_span<span<T>> : std::true_type {};
}  // namespace detail

template <class T>
class span {
 public:
  using element_type = T;
  using value_type = std::remove_cv_t<T>;

  constexpr span() noexcept = default;
  constexpr span(T* data, std::size_t size) noexcept : data_(data), size_(size) {}
  template <std::size_t N>
  constexpr span(T (&a)[N]) noexcept : data_(a), size_(N) {}
  // Any contiguous container (std::vector, std::array, ...) whose elements convert by pointer.
  template <class C, class = std::enable_if_t<!detail::is_span<std::remove_cv_t<C>>::value &&
                                              std::is_convertible_v<decltype(std::declval<C&>().data()), T*>>>
  constexpr span(C& c) noexcept : data_(c.data()), size_(c.size()) {}
  // span<U> -> span<const U>.
  template <class U, class = std::enable_if_t<std::is_convertible_v<U*, T*>>>
  constexpr span(span<U> s) noexcept : data_(s.data()), size_(s.size()) {}

  constexpr T* data() const noexcept { return data_; }
  constexpr std::size_t size() const noexcept { return size_; }
  constexpr bool empty() const noexcept { return size_ == 0; }
  constexpr T& operator[](std::size_t i) const noexcept { return data_[i]; }
  constexpr T* begin() const noexcept { return data_; }
  constexpr T* end() const noexcept { return data_ + size_; }

 private:
  T* data_ = nullptr;
  std::size_t size_ = 0;
};

template <class C>
span(C&) -> span<std::remove_pointer_t<decltype(std::declval<C&>().data())>>;

// ---------------------------------------------------------------------------------------------
// Errors.

class error : public std::runtime_error {
 public:
  error(sc_status status, const std::string& message)
      : std::runtime_error(std::string(sc_status_name(static_cast<int32_t>(status))) + ": " + message),
        status_(status),
        message_(message) {}

  sc_status status() const noexcept { return status_; }
  // The library's (or the wrapper's) message, without the status name.
  const std::string& message() const noexcept { return message_; }
  const char* name() const noexcept { return sc_status_name(static_cast<int32_t>(status_)); }

 private:
  sc_status status_;
  std::string message_;
};

// The calling thread's last library message (valid right after a failed call).
inline std::string last_error_message() {
  std::size_t n = sc_last_error_message(nullptr, 0);
  std::string s(n + 1, '\0');
  sc_last_error_message(s.data(), s.size());
  s.resize(n);
  return s;
}

// Throws scscale::error unless `status` is SC_STATUS_OK. Also usable on raw sc_* calls.
inline void check(sc_status status) {
  if (status != SC_STATUS_OK) throw error(status, last_error_message());
}

inline const char* version() noexcept { return sc_version(); }
inline uint32_t abi_version() noexcept { return sc_abi_version(); }

// Throws if the loaded library's ABI differs from the header this code was compiled with.
inline void check_abi() {
  if (sc_abi_version() != SC_ABI_VERSION)
    throw error(SC_STATUS_UNSUPPORTED, "loaded libscscale has ABI " + std::to_string(sc_abi_version()) +
                                           " but scscale.h is ABI " + std::to_string(SC_ABI_VERSION));
}

// ---------------------------------------------------------------------------------------------
// Element types.

enum class flavor : sc_flavor { scanpy = SC_FLAVOR_SCANPY, seurat = SC_FLAVOR_SEURAT };

namespace detail {
// Signed 32/64-bit integers of any spelling (int, long, long long, int64_t) map to the ABI's.
template <class I>
constexpr sc_index_type index_type() {
  static_assert(std::is_integral_v<I> && std::is_signed_v<I> && (sizeof(I) == 4 || sizeof(I) == 8),
                "scscale: indices must be signed 32- or 64-bit integers");
  return sizeof(I) == 4 ? SC_INDEX_INT32 : SC_INDEX_INT64;
}
template <class V>
constexpr sc_value_type value_type() {
  static_assert(std::is_same_v<V, float> || std::is_same_v<V, double>, "scscale: values must be float or double");
  return std::is_same_v<V, float> ? SC_VALUE_FLOAT32 : SC_VALUE_FLOAT64;
}
}  // namespace detail

// ---------------------------------------------------------------------------------------------
// Views of the caller's data (borrowed for the duration of one call).

// A compressed sparse cells x genes matrix. For *_csr calls indptr runs over rows (cells); for
// *_csc calls over columns (genes). index_base 1 for Julia/Fortran memory.
template <class I, class V>
struct sparse_view {
  uint64_t n_rows = 0;
  uint64_t n_cols = 0;
  span<const I> indptr;
  span<const I> indices;
  span<const V> data;
  uint32_t index_base = 0;

  sc_sparse c() const noexcept {
    sc_sparse s{};
    s.n_rows = n_rows;
    s.n_cols = n_cols;
    s.indptr = indptr.data();
    s.indptr_len = indptr.size();
    s.indices = indices.data();
    s.indices_len = indices.size();
    s.data = data.data();
    s.data_len = data.size();
    s.index_type = detail::index_type<I>();
    s.value_type = detail::value_type<V>();
    s.index_base = index_base;
    return s;
  }
};

template <class I, class V>
sparse_view<I, V> make_sparse(uint64_t n_rows, uint64_t n_cols, span<const I> indptr, span<const I> indices,
                              span<const V> data, uint32_t index_base = 0) {
  return sparse_view<I, V>{n_rows, n_cols, indptr, indices, data, index_base};
}
// From containers with .data()/.size() (e.g. std::vector<int32_t>, std::vector<float>).
template <class CI, class CV,
          class I = std::remove_cv_t<std::remove_pointer_t<decltype(std::declval<const CI&>().data())>>,
          class V = std::remove_cv_t<std::remove_pointer_t<decltype(std::declval<const CV&>().data())>>>
sparse_view<I, V> make_sparse(uint64_t n_rows, uint64_t n_cols, const CI& indptr, const CI& indices, const CV& data,
                              uint32_t index_base = 0) {
  return sparse_view<I, V>{n_rows,
                           n_cols,
                           span<const I>(indptr.data(), indptr.size()),
                           span<const I>(indices.data(), indices.size()),
                           span<const V>(data.data(), data.size()),
                           index_base};
}

// A row-major dense cells x genes input; row_stride 0 = n_cols.
template <class V>
struct dense_view {
  uint64_t n_rows = 0;
  uint64_t n_cols = 0;
  span<const V> data;
  uint64_t row_stride = 0;

  sc_dense c() const noexcept {
    sc_dense d{};
    d.n_rows = n_rows;
    d.n_cols = n_cols;
    d.data = data.data();
    d.data_len = data.size();
    d.value_type = detail::value_type<V>();
    d.row_stride = row_stride;
    return d;
  }
};

// A caller-owned row-major dense output with n_cols output columns; row_stride 0 = n_cols.
template <class W>
struct dense_out {
  span<W> data;
  uint64_t n_cols = 0;
  uint64_t row_stride = 0;

  sc_dense_out c() const noexcept {
    sc_dense_out o{};
    o.data = data.data();
    o.data_len = data.size();
    o.value_type = detail::value_type<W>();
    o.n_cols = n_cols;
    o.row_stride = row_stride;
    return o;
  }
};

// ---------------------------------------------------------------------------------------------
// Options: sc_options plus the progress callback it owns. Buffers set here are borrowed: they
// must outlive every call made with these options.

using progress_fn = std::function<bool(uint64_t done, uint64_t total)>;  // return false to cancel

class options {
 public:
  explicit options(flavor f = flavor::seurat) { check(sc_options_default(&o_, static_cast<sc_flavor>(f))); }

  options& center(bool v) { o_.center = v; return *this; }
  options& scale(bool v) { o_.scale = v; return *this; }
  // Clip at max_value (Seurat scale.max, Scanpy max_value).
  options& clip(double max_value) { o_.clip = true; o_.max_value = max_value; return *this; }
  options& no_clip() { o_.clip = false; return *this; }
  // Scanpy's numba thread count T; changes the bits of CSR statistics.
  options& n_partitions(uint32_t t) { o_.n_partitions = t; return *this; }
  // Worker threads (0 = all cores); never changes the bits.
  options& n_threads(uint32_t t) { o_.n_threads = t; return *this; }
  // gene -> output column, -1 = skip (Seurat's features).
  options& column_map(span<const int64_t> m) { o_.column_map = m.data(); o_.column_map_len = m.size(); return *this; }
  // Per-row group label (-1 = none) and the number of groups (Seurat split.by, Scanpy mask).
  options& groups(span<const int32_t> g, uint32_t n_groups) {
    o_.groups = g.data(); o_.groups_len = g.size(); o_.n_groups = n_groups; return *this;
  }
  options& given_stats(span<const double> mean, span<const double> std) {
    o_.given_mean = mean.data(); o_.given_mean_len = mean.size();
    o_.given_std = std.data(); o_.given_std_len = std.size();
    return *this;
  }
  options& mean_out(span<double> s) { o_.mean_out = s.data(); o_.mean_out_len = s.size(); return *this; }
  options& var_out(span<double> s) { o_.var_out = s.data(); o_.var_out_len = s.size(); return *this; }
  options& std_out(span<double> s) { o_.std_out = s.data(); o_.std_out_len = s.size(); return *this; }
  options& progress(progress_fn f) { progress_ = std::move(f); return *this; }
  options& no_hugepage_advice(bool v = true) { o_.no_hugepage_advice = v; return *this; }

  const sc_options& c() const noexcept { return o_; }
  sc_options& c() noexcept { return o_; }
  const progress_fn& progress() const noexcept { return progress_; }

  // Output columns a call writes: the genes kept by the column map, or n_genes.
  uint64_t output_columns(uint64_t n_genes) const noexcept {
    if (!o_.column_map) return n_genes;
    uint64_t n = 0;
    for (std::size_t i = 0; i < o_.column_map_len; ++i) n += o_.column_map[i] >= 0;
    return n;
  }
  uint64_t n_groups() const noexcept { return o_.groups ? o_.n_groups : 1; }

 private:
  sc_options o_{};
  progress_fn progress_;
};

namespace detail {
struct progress_ctx {
  const progress_fn* fn;
  std::exception_ptr err;
};

// Exceptions must not unwind through the Rust frames: park them and cancel the call.
inline int32_t progress_trampoline(void* data, uint64_t done, uint64_t total) noexcept {
  auto* ctx = static_cast<progress_ctx*>(data);
  try {
    return (*ctx->fn)(done, total) ? 0 : 1;
  } catch (...) {
    ctx->err = std::current_exception();
    return 1;
  }
}

template <class F>
void call(const options& o, F&& f) {
  sc_options c = o.c();
  progress_ctx ctx{&o.progress(), nullptr};
  if (o.progress()) {
    c.progress = &progress_trampoline;
    c.progress_data = &ctx;
  }
  sc_status s = f(&c);
  if (ctx.err) std::rethrow_exception(ctx.err);
  check(s);
}

template <class W>
std::vector<W> alloc_dense(uint64_t n_rows, uint64_t n_out) {
  if (n_out != 0 && n_rows > SIZE_MAX / n_out)
    throw error(SC_STATUS_SIZE_OVERFLOW, "output of " + std::to_string(n_rows) + " x " + std::to_string(n_out) +
                                             " does not fit in memory");
  return std::vector<W>(static_cast<std::size_t>(n_rows * n_out));
}
}  // namespace detail

// ---------------------------------------------------------------------------------------------
// Calls. Each has a form writing into a caller buffer and one returning a new std::vector.

// CSR cells x genes (also Julia's SparseMatrixCSC / R's dgCMatrix genes x cells) -> row-major dense.
template <class I, class V, class W>
void scale_csr(const sparse_view<I, V>& x, const options& o, const dense_out<W>& out) {
  const sc_sparse cx = x.c();
  const sc_dense_out co = out.c();
  detail::call(o, [&](const sc_options* c) { return sc_scale_csr(&cx, c, &co); });
}
template <class W = double, class I, class V>
std::vector<W> scale_csr(const sparse_view<I, V>& x, const options& o) {
  const uint64_t n_out = o.output_columns(x.n_cols);
  auto v = detail::alloc_dense<W>(x.n_rows, n_out);
  scale_csr(x, o, dense_out<W>{span<W>(v), n_out, 0});
  return v;
}

// CSC cells x genes (Scanpy flavor) -> row-major dense.
template <class I, class V, class W>
void scale_csc(const sparse_view<I, V>& x, const options& o, const dense_out<W>& out) {
  const sc_sparse cx = x.c();
  const sc_dense_out co = out.c();
  detail::call(o, [&](const sc_options* c) { return sc_scale_csc(&cx, c, &co); });
}
template <class W = double, class I, class V>
std::vector<W> scale_csc(const sparse_view<I, V>& x, const options& o) {
  const uint64_t n_out = o.output_columns(x.n_cols);
  auto v = detail::alloc_dense<W>(x.n_rows, n_out);
  scale_csc(x, o, dense_out<W>{span<W>(v), n_out, 0});
  return v;
}

// CSC cells x genes (Scanpy flavor) -> column-major dense, the order scipy's CSC toarray() gives:
// cell r, output column j at out[j * n_rows + r]. Columns are contiguous: out.row_stride must be 0.
template <class I, class V, class W>
void scale_csc_colmajor(const sparse_view<I, V>& x, const options& o, const dense_out<W>& out) {
  const sc_sparse cx = x.c();
  const sc_dense_out co = out.c();
  detail::call(o, [&](const sc_options* c) { return sc_scale_csc_colmajor(&cx, c, &co); });
}
template <class W = double, class I, class V>
std::vector<W> scale_csc_colmajor(const sparse_view<I, V>& x, const options& o) {
  const uint64_t n_out = o.output_columns(x.n_cols);
  auto v = detail::alloc_dense<W>(x.n_rows, n_out);
  scale_csc_colmajor(x, o, dense_out<W>{span<W>(v), n_out, 0});
  return v;
}

// Row-major dense (Scanpy flavor). out may view x's own buffer (in place, same type and stride).
template <class V, class W>
void scale_dense(const dense_view<V>& x, const options& o, const dense_out<W>& out) {
  const sc_dense cx = x.c();
  const sc_dense_out co = out.c();
  detail::call(o, [&](const sc_options* c) { return sc_scale_dense(&cx, c, &co); });
}
template <class W = double, class V>
std::vector<W> scale_dense(const dense_view<V>& x, const options& o) {
  const uint64_t n_out = o.output_columns(x.n_cols);
  auto v = detail::alloc_dense<W>(x.n_rows, n_out);
  scale_dense(x, o, dense_out<W>{span<W>(v), n_out, 0});
  return v;
}

// Scanpy zero_center=False: one value per stored entry (out may be x.data's memory: in place).
template <class I, class V, class W>
void scale_csr_values(const sparse_view<I, V>& x, const options& o, span<W> out) {
  const sc_sparse cx = x.c();
  const sc_values_out co{out.data(), out.size(), detail::value_type<W>()};
  detail::call(o, [&](const sc_options* c) { return sc_scale_csr_values(&cx, c, &co); });
}
template <class W = double, class I, class V>
std::vector<W> scale_csr_values(const sparse_view<I, V>& x, const options& o) {
  std::vector<W> v(x.data.size());
  scale_csr_values(x, o, span<W>(v));
  return v;
}
template <class I, class V, class W>
void scale_csc_values(const sparse_view<I, V>& x, const options& o, span<W> out) {
  const sc_sparse cx = x.c();
  const sc_values_out co{out.data(), out.size(), detail::value_type<W>()};
  detail::call(o, [&](const sc_options* c) { return sc_scale_csc_values(&cx, c, &co); });
}
template <class W = double, class I, class V>
std::vector<W> scale_csc_values(const sparse_view<I, V>& x, const options& o) {
  std::vector<W> v(x.data.size());
  scale_csc_values(x, o, span<W>(v));
  return v;
}

// Per-group, per-gene statistics, group-major (index group * n_genes + gene).
struct stats {
  std::vector<double> mean, var, std;
};

namespace detail {
template <class F>
stats stats_call(options o, uint64_t n_genes, F&& f) {
  const std::size_t n = static_cast<std::size_t>(o.n_groups() * n_genes);
  stats s{std::vector<double>(n), std::vector<double>(n), std::vector<double>(n)};
  o.mean_out(span<double>(s.mean)).var_out(span<double>(s.var)).std_out(span<double>(s.std));
  call(o, f);
  return s;
}
}  // namespace detail

template <class I, class V>
stats stats_csr(const sparse_view<I, V>& x, const options& o) {
  const sc_sparse cx = x.c();
  return detail::stats_call(o, x.n_cols, [&](const sc_options* c) { return sc_stats_csr(&cx, c); });
}
template <class I, class V>
stats stats_csc(const sparse_view<I, V>& x, const options& o) {
  const sc_sparse cx = x.c();
  return detail::stats_call(o, x.n_cols, [&](const sc_options* c) { return sc_stats_csc(&cx, c); });
}
template <class V>
stats stats_dense(const dense_view<V>& x, const options& o) {
  const sc_dense cx = x.c();
  return detail::stats_call(o, x.n_cols, [&](const sc_options* c) { return sc_stats_dense(&cx, c); });
}

// ---------------------------------------------------------------------------------------------
// Eigen: a RowMajor SparseMatrix cells x genes is CSR (both flavors); a ColMajor one cells x
// genes is CSC (Scanpy). Returns a row-major dense cells x output-columns matrix.
#if defined(SCSCALE_HAS_EIGEN)
template <class W>
using row_major_matrix = Eigen::Matrix<W, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

template <class V, int Opts, class I>
sparse_view<I, V> view(const Eigen::SparseMatrix<V, Opts, I>& m) {
  if (!m.isCompressed())
    throw error(SC_STATUS_UNSUPPORTED, "Eigen::SparseMatrix is not compressed; call makeCompressed() first");
  const std::size_t n_outer = static_cast<std::size_t>(m.outerSize());
  const std::size_t nnz = static_cast<std::size_t>(m.nonZeros());
  return sparse_view<I, V>{static_cast<uint64_t>(m.rows()),
                           static_cast<uint64_t>(m.cols()),
                           span<const I>(m.outerIndexPtr(), n_outer + 1),
                           span<const I>(m.innerIndexPtr(), nnz),
                           span<const V>(m.valuePtr(), nnz),
                           0};
}

template <class W = double, class V, int Opts, class I>
row_major_matrix<W> scale(const Eigen::SparseMatrix<V, Opts, I>& m, const options& o) {
  const auto x = view(m);
  const uint64_t n_out = o.output_columns(x.n_cols);
  row_major_matrix<W> r(m.rows(), static_cast<Eigen::Index>(n_out));
  const dense_out<W> out{span<W>(r.data(), static_cast<std::size_t>(r.size())), n_out, 0};
  if constexpr ((Opts & Eigen::RowMajorBit) != 0)
    scale_csr(x, o, out);
  else
    scale_csc(x, o, out);
  return r;
}
#endif

}  // namespace scscale

#endif  // SCSCALE_HPP
