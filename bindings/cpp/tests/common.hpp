// Shared test helpers: the reference matrices as typed, based arrays for the wrapper.
#pragma once

#include <gtest/gtest.h>

#include "reference.hpp"
#include "scscale.hpp"

namespace testing_util {

// Owns typed copies of a reference matrix with the requested index type and base.
template <class I, class V>
struct Typed {
  std::vector<I> indptr, indices;
  std::vector<V> data;
  uint64_t n_rows = 0, n_cols = 0;
  uint32_t base = 0;

  Typed(const ref::Csr<V>& m, uint32_t b = 0) : data(m.data), n_rows(m.n_rows), n_cols(m.n_cols), base(b) {
    for (auto p : m.indptr) indptr.push_back(I(p + b));
    for (auto i : m.indices) indices.push_back(I(i + b));
  }
  scscale::sparse_view<I, V> view() const { return scscale::make_sparse(n_rows, n_cols, indptr, indices, data, base); }
};

inline scscale::options to_options(const ref::Opts& r) {
  scscale::options o(r.scanpy ? scscale::flavor::scanpy : scscale::flavor::seurat);
  o.center(r.center).scale(r.scale).n_partitions(r.T);
  if (r.clip) o.clip(r.max_value);
  else o.no_clip();
  return o;
}

// The options' borrowed buffers (groups, column map) must stay alive: keep them in `r`.
inline scscale::options to_options_with_buffers(const ref::Opts& r) {
  auto o = to_options(r);
  if (!r.groups.empty()) o.groups(r.groups, r.n_groups);
  if (!r.column_map.empty()) o.column_map(r.column_map);
  return o;
}

// Groups: three labels plus NA (-1) rows.
inline std::vector<int32_t> some_groups(std::size_t n_rows, uint64_t seed) {
  std::vector<int32_t> g(n_rows);
  for (std::size_t r = 0; r < n_rows; ++r) g[r] = int32_t((r * 7 + seed) % 4) - 1;
  return g;
}

// A column map that reverses the genes and drops every third one.
inline std::vector<int64_t> some_column_map(std::size_t n_cols) {
  std::vector<int64_t> keep;
  for (std::size_t c = 0; c < n_cols; ++c)
    if (c % 3 != 2) keep.push_back(int64_t(c));
  std::vector<int64_t> map(n_cols, -1);
  for (std::size_t k = 0; k < keep.size(); ++k) map[keep[k]] = int64_t(keep.size() - 1 - k);
  return map;
}

}  // namespace testing_util
