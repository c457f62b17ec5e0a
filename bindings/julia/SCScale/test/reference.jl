# Plain Julia reference of both flavors (see /work/shared/spec), written from the spec, not from
# the Rust core. A is genes x cells; its column j is cell j (CSR row j of cells x genes).
module Reference

using SparseArrays

ngroups(codes) = codes === nothing ? 1 : max(reduce(max, codes; init = -1) + 1, 1)
groupof(codes, j) = codes === nothing ? 0 : codes[j]

# Labels -> 0-based codes in first-appearance order (missing = -1), like the package.
function codes_of(groups)
    groups === nothing && return nothing
    seen = Dict{Any,Int}()
    return [g === missing ? -1 : get!(seen, g, length(seen)) for g in groups]
end

outrows(features, n) = features === nothing ? collect(1:n) : unique(features)

# Seurat FastSparseRowScale: per gene, stored entries in cell order; two passes; mean^2*(n-nnz)
# added last; ddof 1; upper clip; NaN -> 0 (also for cells in no group).
function seurat(A::SparseMatrixCSC{Tv}, ::Type{W} = Float64; center = true, scale = true, scale_max = 10.0,
                features = nothing, groups = nothing) where {Tv,W}
    G, C = size(A)
    codes = codes_of(groups)
    K = ngroups(codes)
    rows = outrows(features, G)
    out = zeros(W, length(rows), C)
    for k in 0:K-1
        cells = [j for j in 1:C if groupof(codes, j) == k]
        n = length(cells)
        vals = [Float64[] for _ in 1:G]
        dense = zeros(Float64, G, C)
        for j in cells, p in nzrange(A, j)
            push!(vals[A.rowval[p]], Float64(A.nzval[p]))
            dense[A.rowval[p], j] = Float64(A.nzval[p])
        end
        for (oi, g) in enumerate(rows)
            xs = vals[g]
            s = 0.0
            for x in xs
                s += x
            end
            mean = s / Float64(n)
            sd = 1.0
            if scale
                ss = 0.0
                if center
                    nnz = 0
                    for x in xs
                        ss += (x - mean) * (x - mean)
                        nnz += 1
                    end
                    ss += (mean * mean) * Float64(n - nnz)
                else
                    for x in xs
                        ss += x * x
                    end
                end
                sd = sqrt(ss / Float64(n - 1))
            end
            m = center ? mean : 0.0
            for j in cells
                z = (dense[g, j] - m) / sd
                if scale_max !== nothing && z > scale_max
                    z = Float64(scale_max)
                end
                out[oi, j] = W(isnan(z) ? 0.0 : z)
            end
        end
    end
    return out
end

# Scanpy 2a statistics: round-robin partitions over the rank within the group (T = numba
# threads), f64 sums, squares in the input dtype, partials combined in order, one-pass variance
# * n/(n-1), std 0 -> 1 (NaN kept).
function scanpy_moments(A::SparseMatrixCSC, T, codes)
    G, C = size(A)
    K = ngroups(codes)
    sums = zeros(Float64, G, T, K)
    sq = zeros(Float64, G, T, K)
    rank = zeros(Int, K)
    sizes = zeros(Int, K)
    for j in 1:C
        k = groupof(codes, j)
        k < 0 && continue
        sizes[k+1] += 1
        t = rank[k+1] % T + 1
        rank[k+1] += 1
        for p in nzrange(A, j)
            v = A.nzval[p]
            sums[A.rowval[p], t, k+1] += Float64(v)
            sq[A.rowval[p], t, k+1] += Float64(v * v)  # square in the input dtype
        end
    end
    mean = zeros(G, K)
    sd = zeros(G, K)
    for k in 1:K, g in 1:G
        s = 0.0
        q = 0.0
        for t in 1:T
            s += sums[g, t, k]
            q += sq[g, t, k]
        end
        n = Float64(sizes[k])
        m = s / n
        var = q / n - m * m
        if sizes[k] != 1
            var *= n / (n - 1.0)
        end
        st = Base.sqrt_llvm(var)  # hardware sqrt: NaN for var < 0 with its payload, as numpy (Julia's sqrt throws)
        mean[g, k] = m
        sd[g, k] = st == 0.0 ? 1.0 : st
    end
    return mean, sd
end

# Scanpy 1.12.4 on CSR to dense: scipy todense() sums onto zero in the input dtype; symmetric
# clip when centering, upper clip otherwise, NaN kept; cells in no group keep their values.
function scanpy(A::SparseMatrixCSC{Tv}, ::Type{W} = Float64; center = true, scale_max = nothing,
                n_partitions = 1, features = nothing, groups = nothing) where {Tv,W}
    G, C = size(A)
    codes = codes_of(groups)
    mean, sd = scanpy_moments(A, n_partitions, codes)
    dense = zeros(Tv, G, C)
    for j in 1:C, p in nzrange(A, j)
        dense[A.rowval[p], j] = dense[A.rowval[p], j] + A.nzval[p]  # input dtype
    end
    rows = outrows(features, G)
    out = zeros(W, length(rows), C)
    for j in 1:C, (oi, g) in enumerate(rows)
        x = Float64(dense[g, j])
        k = groupof(codes, j)
        z = x
        if k >= 0
            if center
                z = (x - mean[g, k+1]) / sd[g, k+1]
                if scale_max !== nothing
                    z = z > scale_max ? Float64(scale_max) : z < -scale_max ? -Float64(scale_max) : z
                end
            else
                z = x / sd[g, k+1]
                if scale_max !== nothing && z > scale_max
                    z = Float64(scale_max)
                end
            end
        end
        out[oi, j] = W(z)
    end
    return out
end

# Scanpy zero_center=False on CSR (numba scale_and_clip_csr): f64(v) / std, then
# min(max_value, q) so NaN becomes max_value; cells outside the mask keep their values.
function scanpy_values(A::SparseMatrixCSC{Tv}, ::Type{W} = Tv; scale_max = nothing, n_partitions = 1,
                       groups = nothing) where {Tv,W}
    codes = codes_of(groups)
    _, sd = scanpy_moments(A, n_partitions, codes)
    out = Vector{W}(undef, nnz(A))
    for j in 1:size(A, 2), p in nzrange(A, j)
        k = groupof(codes, j)
        q = Float64(A.nzval[p])
        if k >= 0
            q = q / sd[A.rowval[p], k+1]
            if scale_max !== nothing
                q = q < scale_max ? q : Float64(scale_max)
            end
        end
        out[p] = W(q)
    end
    return out
end

# A genes x cells with: an empty gene, a constant gene (0.1 in every cell), a gene of explicit
# zeros, counts, log-normalised values, negative values and rare tiny values.
function random_matrix(seed, G, C, density, ::Type{Tv} = Float64, ::Type{Ti} = Int64) where {Tv,Ti}
    state = UInt64(seed)
    rnd() = (state = state * 6364136223846793005 + 1442695040888963407; Float64(state >> 11) / 2.0^53)
    colptr = Ti[1]
    rowval = Ti[]
    nzval = Tv[]
    for j in 1:C
        for g in 1:G
            kind = (g - 1) % 7
            kind == 0 && continue
            (kind == 1 || rnd() < density) || continue
            v = kind == 1 ? 0.1 : kind == 2 ? 0.0 : kind == 3 ? floor(rnd() * 20) :
                kind == 4 ? log1p(rnd() * 100) : kind == 5 ? (rnd() - 0.5) * 1e3 :
                (rnd() < 0.05 ? 1e-200 * rnd() : rnd() * 3)
            push!(rowval, Ti(g))
            push!(nzval, Tv(v))
        end
        push!(colptr, Ti(length(rowval) + 1))
    end
    return SparseMatrixCSC{Tv,Ti}(G, C, colptr, rowval, nzval)
end

end # module
