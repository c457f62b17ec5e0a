# Scale a small genes x cells matrix like Seurat's ScaleData and Scanpy's pp.scale.
# Run: julia --project=bindings/julia/SCScale examples/julia/example.jl
using SparseArrays
using SCScale

# 3 genes x 4 cells (Julia's usual orientation); passed to the library without copying.
A = sparse([1, 3, 2, 1, 3, 2], [1, 1, 2, 3, 3, 4], [1.0, 3.0, 2.0, 4.0, 1.0, 5.0], 3, 4)

println("Seurat ScaleData (scale.max = 10):")
show(stdout, "text/plain", scale(A))
println()
println("Scanpy pp.scale (max_value = 1), genes 3 and 1 only:")
show(stdout, "text/plain", scale(A; flavor = :scanpy, scale_max = 1.0, features = [3, 1]))
println()
println("Seurat split.by two batches (missing = no batch):")
show(stdout, "text/plain", scale(A; groups = ["a", "b", "a", missing]))
println()
try
    scale(A; flavor = :scanpy, n_partitions = 0)
catch e
    println("error as expected: ", sprint(showerror, e))
end
