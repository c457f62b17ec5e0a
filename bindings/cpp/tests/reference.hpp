// Plain loops following /work/shared/spec (Seurat FastSparseRowScale, Scanpy 1.12.4 pp.scale),
// written independently of the Rust core. Compiled with -ffp-contract=off: no FMA, like both tools.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

namespace ref {

// CSR cells x genes with 0-based int64 indices (or CSC when used by the *_csc functions: then
// indptr runs over genes and n_rows/n_cols keep their cells x genes meaning).
template <class V>
struct Csr {
  std::size_t n_rows = 0, n_cols = 0;
  std::vector<int64_t> indptr, indices;
  std::vector<V> data;
};

struct Opts {
  bool scanpy = false;
  bool center = true;
  bool scale = true;
  bool clip = true;
  double max_value = 10.0;
  unsigned T = 1;                   // Scanpy numba partitions
  std::vector<int32_t> groups;      // empty = every row in group 0
  unsigned n_groups = 1;
  std::vector<int64_t> column_map;  // empty = identity
};

struct Stats {
  std::vector<double> mean, var, std;  // group-major
};

inline unsigned n_groups(const Opts& o) { return o.groups.empty() ? 1u : o.n_groups; }
inline int group_of(const Opts& o, std::size_t r) { return o.groups.empty() ? 0 : o.groups[r]; }

inline std::vector<int64_t> group_sizes(const Opts& o, std::size_t n_rows) {
  std::vector<int64_t> s(n_groups(o), 0);
  for (std::size_t r = 0; r < n_rows; ++r)
    if (group_of(o, r) >= 0) s[group_of(o, r)]++;
  return s;
}

inline std::size_t n_out(const Opts& o, std::size_t n_cols) {
  if (o.column_map.empty()) return n_cols;
  std::size_t n = 0;
  for (auto c : o.column_map) n += c >= 0;
  return n;
}
inline int64_t out_col(const Opts& o, std::size_t c) { return o.column_map.empty() ? int64_t(c) : o.column_map[c]; }

// Scanpy fast_array_utils mean_var(correction=1), then std[std == 0] = 1.
inline void scanpy_moments(double s, double q, int64_t n, double& mean, double& var, double& sd) {
  double nf = double(n);
  mean = s / nf;
  var = q / nf - mean * mean;
  if (n != 1) var *= nf / (nf - 1.0);
  sd = std::sqrt(var);
  if (sd == 0.0) sd = 1.0;
}

// ---- Seurat (CSR cells x genes = dgCMatrix genes x cells) ------------------------------------

template <class V>
Stats seurat_stats(const Csr<V>& m, const Opts& o) {
  const unsigned G = n_groups(o);
  const std::size_t C = m.n_cols;
  auto sizes = group_sizes(o, m.n_rows);
  Stats st{std::vector<double>(G * C), std::vector<double>(G * C), std::vector<double>(G * C)};
  for (unsigned g = 0; g < G; ++g) {
    for (std::size_t c = 0; c < C; ++c) {
      // Entries of gene c in increasing cell order, one per cell (no duplicates in Seurat).
      std::vector<double> xs;
      for (std::size_t r = 0; r < m.n_rows; ++r) {
        if (group_of(o, r) != int(g)) continue;
        for (int64_t j = m.indptr[r]; j < m.indptr[r + 1]; ++j)
          if (std::size_t(m.indices[j]) == c) xs.push_back(double(m.data[j]));
      }
      const int64_t n = sizes[g];
      double sum = 0.0;
      for (double x : xs) sum += x;
      double mean = sum / double(n);
      double var = 1.0, sd = 1.0;
      if (o.scale) {
        double ss = 0.0;
        if (o.center) {
          int64_t nnz = 0;
          for (double x : xs) {
            ss += (x - mean) * (x - mean);
            nnz++;
          }
          ss += (mean * mean) * double(n - nnz);
        } else {
          for (double x : xs) ss += x * x;
        }
        var = ss / double(n - 1);
        sd = std::sqrt(var);
      }
      st.mean[g * C + c] = o.center ? mean : 0.0;
      st.var[g * C + c] = var;
      st.std[g * C + c] = sd;
    }
  }
  return st;
}

template <class W, class V>
std::vector<W> seurat_scale(const Csr<V>& m, const Opts& o, Stats* stats_out = nullptr) {
  const Stats st = seurat_stats(m, o);
  const std::size_t C = m.n_cols, NO = n_out(o, C);
  std::vector<W> out(m.n_rows * NO, W(0));
  for (std::size_t r = 0; r < m.n_rows; ++r) {
    const int g = group_of(o, r);
    if (g < 0) continue;  // NA row -> 0
    std::vector<double> row(C, 0.0);
    for (int64_t j = m.indptr[r]; j < m.indptr[r + 1]; ++j) row[m.indices[j]] = double(m.data[j]);
    for (std::size_t c = 0; c < C; ++c) {
      const int64_t oc = out_col(o, c);
      if (oc < 0) continue;
      double z = (row[c] - st.mean[g * C + c]) / st.std[g * C + c];
      if (o.clip && z > o.max_value) z = o.max_value;
      if (std::isnan(z)) z = 0.0;
      out[r * NO + oc] = W(z);
    }
  }
  if (stats_out) *stats_out = st;
  return out;
}

// ---- Scanpy -----------------------------------------------------------------------------------

// 2a: round-robin partitions by rank within the group, f64 sums, squares in the input dtype.
template <class V>
Stats scanpy_csr_stats(const Csr<V>& m, const Opts& o) {
  const unsigned G = n_groups(o), T = o.T;
  const std::size_t C = m.n_cols;
  auto sizes = group_sizes(o, m.n_rows);
  std::vector<double> sums(G * T * C, 0.0), sq(G * T * C, 0.0);
  std::vector<std::size_t> rank(G, 0);
  for (std::size_t r = 0; r < m.n_rows; ++r) {
    const int g = group_of(o, r);
    if (g < 0) continue;
    const std::size_t t = rank[g]++ % T;
    for (int64_t j = m.indptr[r]; j < m.indptr[r + 1]; ++j) {
      const V v = m.data[j];
      const V v2 = v * v;  // input dtype
      sums[(g * T + t) * C + m.indices[j]] += double(v);
      sq[(g * T + t) * C + m.indices[j]] += double(v2);
    }
  }
  Stats st{std::vector<double>(G * C), std::vector<double>(G * C), std::vector<double>(G * C)};
  for (unsigned g = 0; g < G; ++g)
    for (std::size_t c = 0; c < C; ++c) {
      double s = 0.0, q = 0.0;
      for (unsigned t = 0; t < T; ++t) {
        s += sums[(g * T + t) * C + c];
        q += sq[(g * T + t) * C + c];
      }
      scanpy_moments(s, q, sizes[g], st.mean[g * C + c], st.var[g * C + c], st.std[g * C + c]);
    }
  return st;
}

// 2b: CSC per column in stored order, squares in f64. `m` is compressed over genes.
template <class V>
Stats scanpy_csc_stats(const Csr<V>& m, const Opts& o) {
  const unsigned G = n_groups(o);
  const std::size_t C = m.n_cols;
  auto sizes = group_sizes(o, m.n_rows);
  Stats st{std::vector<double>(G * C), std::vector<double>(G * C), std::vector<double>(G * C)};
  for (unsigned g = 0; g < G; ++g)
    for (std::size_t c = 0; c < C; ++c) {
      double s = 0.0, q = 0.0;
      for (int64_t j = m.indptr[c]; j < m.indptr[c + 1]; ++j) {
        if (group_of(o, m.indices[j]) != int(g)) continue;
        const double w = double(m.data[j]);
        s += w;
        q += w * w;
      }
      scanpy_moments(s, q, sizes[g], st.mean[g * C + c], st.var[g * C + c], st.std[g * C + c]);
    }
  return st;
}

// scipy todense(): stored values added onto 0 in the input dtype (duplicates summed, -0 -> +0).
template <class V>
std::vector<V> densify(const Csr<V>& m, bool csc) {
  std::vector<V> d(m.n_rows * m.n_cols, V(0));
  const std::size_t n_major = csc ? m.n_cols : m.n_rows;
  for (std::size_t k = 0; k < n_major; ++k)
    for (int64_t j = m.indptr[k]; j < m.indptr[k + 1]; ++j) {
      const std::size_t r = csc ? std::size_t(m.indices[j]) : k, c = csc ? k : std::size_t(m.indices[j]);
      d[r * m.n_cols + c] = V(d[r * m.n_cols + c] + m.data[j]);
    }
  return d;
}

// Sparse -> dense: (x - mean) / std with a symmetric clip (centered) or x / std with an upper
// clip; NaN kept; rows outside every group keep their input value.
template <class W, class V>
std::vector<W> scanpy_sparse_scale(const Csr<V>& m, const Opts& o, bool csc, Stats* stats_out = nullptr) {
  const Stats st = csc ? scanpy_csc_stats(m, o) : scanpy_csr_stats(m, o);
  const std::vector<V> d = densify(m, csc);
  const std::size_t C = m.n_cols, NO = n_out(o, C);
  std::vector<W> out(m.n_rows * NO);
  for (std::size_t r = 0; r < m.n_rows; ++r) {
    const int g = group_of(o, r);
    for (std::size_t c = 0; c < C; ++c) {
      const int64_t oc = out_col(o, c);
      if (oc < 0) continue;
      const double x = double(d[r * C + c]);
      double z = x;
      if (g >= 0) {
        const std::size_t k = g * C + c;
        if (o.center) {
          z = (x - st.mean[k]) / st.std[k];
          if (o.clip && z > o.max_value) z = o.max_value;
          else if (o.clip && z < -o.max_value) z = -o.max_value;
        } else {
          z = x / st.std[k];
          if (o.clip && z > o.max_value) z = o.max_value;
        }
      }
      out[r * NO + oc] = W(z);
    }
  }
  if (stats_out) *stats_out = st;
  return out;
}

// zero_center=False, same pattern: CSR min(max_value, q) (NaN -> max_value); CSC q > max (NaN kept).
template <class W, class V>
std::vector<W> scanpy_values(const Csr<V>& m, const Opts& o, bool csc) {
  const Stats st = csc ? scanpy_csc_stats(m, o) : scanpy_csr_stats(m, o);
  const std::size_t C = m.n_cols;
  std::vector<W> out(m.data.size());
  const std::size_t n_major = csc ? m.n_cols : m.n_rows;
  for (std::size_t k = 0; k < n_major; ++k)
    for (int64_t j = m.indptr[k]; j < m.indptr[k + 1]; ++j) {
      const std::size_t r = csc ? std::size_t(m.indices[j]) : k, c = csc ? k : std::size_t(m.indices[j]);
      const int g = group_of(o, r);
      double q = double(m.data[j]);
      if (g >= 0) {
        q = q / st.std[g * C + c];
        if (o.clip) {
          if (csc) q = q > o.max_value ? o.max_value : q;
          else q = q < o.max_value ? q : o.max_value;
        }
      }
      out[j] = W(q);
    }
  return out;
}

// 2c + dense transform: sequential sums, squares in the input dtype; centring and division each
// rounded to the input dtype.
template <class V>
Stats scanpy_dense_stats(const std::vector<V>& x, std::size_t n_rows, std::size_t C, const Opts& o) {
  const unsigned G = n_groups(o);
  auto sizes = group_sizes(o, n_rows);
  std::vector<double> s(G * C, 0.0), q(G * C, 0.0);
  for (std::size_t r = 0; r < n_rows; ++r) {
    const int g = group_of(o, r);
    if (g < 0) continue;
    for (std::size_t c = 0; c < C; ++c) {
      const V v = x[r * C + c];
      const V v2 = v * v;
      s[g * C + c] += double(v);
      q[g * C + c] += double(v2);
    }
  }
  Stats st{std::vector<double>(G * C), std::vector<double>(G * C), std::vector<double>(G * C)};
  for (std::size_t k = 0; k < G * C; ++k) scanpy_moments(s[k], q[k], sizes[k / C], st.mean[k], st.var[k], st.std[k]);
  return st;
}

template <class V>
std::vector<V> scanpy_dense_scale(const std::vector<V>& x, std::size_t n_rows, std::size_t C, const Opts& o) {
  const Stats st = scanpy_dense_stats(x, n_rows, C, o);
  std::vector<V> out(x.size());
  for (std::size_t r = 0; r < n_rows; ++r) {
    const int g = group_of(o, r);
    for (std::size_t c = 0; c < C; ++c) {
      const V v = x[r * C + c];
      if (g < 0) {
        out[r * C + c] = v;
        continue;
      }
      const std::size_t k = g * C + c;
      const V y = o.center ? V(double(v) - st.mean[k]) : v;
      V z = V(double(y) / st.std[k]);
      if (o.clip) {
        if (double(z) > o.max_value) z = V(o.max_value);
        else if (o.center && double(z) < -o.max_value) z = V(-o.max_value);
      }
      out[r * C + c] = z;
    }
  }
  return out;
}

// ---- Inputs -------------------------------------------------------------------------------------

// Random CSR cells x genes with the awkward cases both tools must honour: empty, constant and
// all-explicit-zero genes, negative and tiny/huge values, optionally unsorted indices and duplicates.
template <class V>
Csr<V> random_csr(uint64_t seed, std::size_t n_rows, std::size_t n_cols, double density, bool unsorted = false,
                  bool duplicates = false) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  Csr<V> m;
  m.n_rows = n_rows;
  m.n_cols = n_cols;
  m.indptr.push_back(0);
  for (std::size_t r = 0; r < n_rows; ++r) {
    std::vector<int64_t> cols;
    for (std::size_t c = 0; c < n_cols; ++c) {
      const std::size_t kind = c % 7;
      if (kind == 0) continue;  // empty gene
      if (kind == 1) {          // constant gene, stored in every row
        cols.push_back(int64_t(c));
        continue;
      }
      if (u(rng) < density) cols.push_back(int64_t(c));
    }
    if (unsorted && cols.size() > 1) std::shuffle(cols.begin(), cols.end(), rng);
    if (duplicates && !cols.empty() && u(rng) < 0.5) cols.push_back(cols[std::size_t(u(rng) * cols.size())]);
    for (int64_t c : cols) {
      const std::size_t kind = std::size_t(c) % 7;
      double v;
      if (kind == 1) v = 0.1;                                   // constant: not exact after sum/n
      else if (kind == 2) v = 0.0;                              // explicit zero
      else if (kind == 3) v = std::floor(u(rng) * 20.0);        // counts
      else if (kind == 4) v = std::log1p(u(rng) * 100.0);       // log-normalised
      else if (kind == 5) v = (u(rng) - 0.5) * 1e3;             // negative and larger
      else v = u(rng) < 0.05 ? 1e-200 * u(rng) : u(rng) * 3.0;  // occasional tiny value
      m.indices.push_back(c);
      m.data.push_back(V(v));
    }
    m.indptr.push_back(int64_t(m.indices.size()));
  }
  return m;
}

// CSR cells x genes -> the same matrix compressed over genes (stable: keeps row order).
template <class V>
Csr<V> to_csc(const Csr<V>& m) {
  Csr<V> t;
  t.n_rows = m.n_rows;
  t.n_cols = m.n_cols;
  t.indptr.assign(m.n_cols + 1, 0);
  for (auto c : m.indices) t.indptr[c + 1]++;
  for (std::size_t c = 0; c < m.n_cols; ++c) t.indptr[c + 1] += t.indptr[c];
  t.indices.resize(m.indices.size());
  t.data.resize(m.data.size());
  std::vector<int64_t> pos(t.indptr.begin(), t.indptr.end() - 1);
  for (std::size_t r = 0; r < m.n_rows; ++r)
    for (int64_t j = m.indptr[r]; j < m.indptr[r + 1]; ++j) {
      const int64_t p = pos[m.indices[j]]++;
      t.indices[p] = int64_t(r);
      t.data[p] = m.data[j];
    }
  return t;
}

// Bit patterns, so that NaN payloads and signed zeros count.
template <class W>
inline uint64_t bits(W v) {
  if constexpr (sizeof(W) == 4) {
    uint32_t b;
    std::memcpy(&b, &v, 4);
    return b;
  } else {
    uint64_t b;
    std::memcpy(&b, &v, 8);
    return b;
  }
}

// Empty string when bitwise equal, else a description of the first difference.
template <class W>
std::string bitwise_diff(const std::vector<W>& got, const std::vector<W>& want) {
  if (got.size() != want.size())
    return "sizes differ: " + std::to_string(got.size()) + " vs " + std::to_string(want.size());
  std::size_t n_diff = 0, first = 0;
  for (std::size_t i = 0; i < got.size(); ++i)
    if (bits(got[i]) != bits(want[i])) {
      if (n_diff++ == 0) first = i;
    }
  if (n_diff == 0) return {};
  char buf[200];
  std::snprintf(buf, sizeof buf, "%zu of %zu differ; first at %zu: got %.17g want %.17g", n_diff, got.size(), first,
                double(got[first]), double(want[first]));
  return buf;
}

}  // namespace ref
