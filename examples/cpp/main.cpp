// Scales a small genes x cells count matrix the way Seurat's ScaleData and Scanpy's pp.scale do.
#include <cstdio>
#include <vector>

#include <scscale.hpp>

int main() {
  scscale::check_abi();
  // 4 cells x 3 genes, CSR (cells are rows): the memory of a dgCMatrix / SparseMatrixCSC genes x cells.
  const std::vector<int32_t> indptr{0, 2, 3, 5, 6};
  const std::vector<int32_t> indices{0, 2, 1, 0, 2, 1};
  const std::vector<double> data{1.0, 3.0, 2.0, 4.0, 1.0, 5.0};
  const auto x = scscale::make_sparse(4, 3, indptr, indices, data);

  std::printf("scscale %s (ABI %u)\n", scscale::version(), scscale::abi_version());
  const auto seurat = scscale::scale_csr(x, scscale::options(scscale::flavor::seurat));
  const auto scanpy = scscale::scale_csr(x, scscale::options(scscale::flavor::scanpy).clip(1.0));
  for (const auto* m : {&seurat, &scanpy}) {
    std::printf(m == &seurat ? "Seurat ScaleData (scale.max = 10):\n" : "Scanpy pp.scale (max_value = 1):\n");
    for (int cell = 0; cell < 4; ++cell) {
      for (int gene = 0; gene < 3; ++gene) std::printf(" %+.6f", (*m)[cell * 3 + gene]);
      std::printf("\n");
    }
  }
  try {
    const std::vector<int32_t> bad_indices{0, 2, 1, 0, 7, 1};
    scscale::scale_csr(scscale::make_sparse(4, 3, indptr, bad_indices, data), scscale::options());
  } catch (const scscale::error& e) {
    std::printf("error as expected: %s\n", e.what());
  }
  return 0;
}
