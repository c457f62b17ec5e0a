"""
    SCScale

Per-gene scaling of single-cell matrices, bit-identical to Seurat 4.3 `ScaleData` and Scanpy
1.12.4 `pp.scale`, through the scscale C library. A `SparseMatrixCSC` genes x cells is passed to
the library as it is (1-based indices, no copy): its memory is a CSR cells x genes matrix.

The library is `ENV["SCSCALE_LIB"]` if set, else `target/release/libscscale.so` of the repository
this package sits in, else an installed `libscscale.so.1`.
"""
module SCScale

using Libdl
using SparseArrays

export scale, scale!, scale_values, scale_values!, SCScaleError

include("abi.jl")

# ---------------------------------------------------------------------------------------------
# Library loading: resolved at __init__, so precompiled code never bakes in a path.

const ABI_VERSION = 1
const LIB = Ref{Ptr{Cvoid}}(C_NULL)
const LIBPATH = Ref{String}("")
const SYMS = Dict{Symbol,Ptr{Cvoid}}()

function default_library()
    p = get(ENV, "SCSCALE_LIB", "")
    isempty(p) || return p
    built = normpath(joinpath(@__DIR__, "..", "..", "..", "..", "target", "release", "libscscale." * Libdl.dlext))
    isfile(built) && return built
    found = Libdl.find_library(["libscscale.so.$ABI_VERSION", "libscscale"])
    isempty(found) && error("SCScale: libscscale not found; build it (cargo build --release) or set SCSCALE_LIB")
    return found
end

function __init__()
    LIBPATH[] = default_library()
    LIB[] = Libdl.dlopen(LIBPATH[])
    empty!(SYMS)
    abi = ccall(sym(:sc_abi_version), UInt32, ())
    abi == ABI_VERSION ||
        error("SCScale: $(LIBPATH[]) has ABI version $abi; this package speaks ABI $ABI_VERSION")
end

sym(name::Symbol) = get!(() -> Libdl.dlsym(LIB[], name), SYMS, name)

"Path of the loaded libscscale."
library_path() = LIBPATH[]
version() = unsafe_string(ccall(sym(:sc_version), Cstring, ()))

# ---------------------------------------------------------------------------------------------
# Errors.

"""
    SCScaleError(status, name, message)

A failed library call: the `sc_status` code, its name (e.g. `"SC_STATUS_INDPTR_END"`) and the
library's message.
"""
struct SCScaleError <: Exception
    status::Int32
    name::String
    message::String
end

Base.showerror(io::IO, e::SCScaleError) = print(io, "SCScaleError: ", e.name, ": ", e.message)

function last_error_message()
    n = ccall(sym(:sc_last_error_message), Csize_t, (Ptr{UInt8}, Csize_t), C_NULL, 0)
    buf = Vector{UInt8}(undef, n + 1)
    ccall(sym(:sc_last_error_message), Csize_t, (Ptr{UInt8}, Csize_t), buf, length(buf))
    return String(buf[1:n])
end

status_name(s::Integer) = unsafe_string(ccall(sym(:sc_status_name), Cstring, (Int32,), s))

function check(status::Int32)
    status == SC_STATUS_OK && return nothing
    throw(SCScaleError(status, status_name(status), last_error_message()))
end

# ---------------------------------------------------------------------------------------------
# Arguments -> ABI structs.

index_code(::Type{Int32}) = SC_INDEX_INT32
index_code(::Type{Int64}) = SC_INDEX_INT64
index_code(T::Type) = throw(ArgumentError("SCScale: index type $T; expected Int32 or Int64"))
value_code(::Type{Float32}) = SC_VALUE_FLOAT32
value_code(::Type{Float64}) = SC_VALUE_FLOAT64
value_code(T::Type) = throw(ArgumentError("SCScale: value type $T; expected Float32 or Float64"))

function flavor_code(flavor::Symbol)
    flavor === :seurat && return SC_FLAVOR_SEURAT
    flavor === :scanpy && return SC_FLAVOR_SCANPY
    throw(ArgumentError("SCScale: flavor = :$flavor; expected :seurat or :scanpy"))
end

# Integer values (counts) are cast to Float64 as Scanpy does; only nzval is copied.
float_values(A::SparseMatrixCSC{<:Union{Float32,Float64}}) = nonzeros(A)
float_values(A::SparseMatrixCSC) = Float64.(nonzeros(A))

# A genes x cells is CSR cells x genes with base 1: its arrays are handed over as they are.
function sparse_struct(A::SparseMatrixCSC{Tv,Ti}, nz::Vector) where {Tv,Ti}
    colptr, rowval = A.colptr, A.rowval
    # rowval/nzval may have spare capacity past nnz; never claim more than they hold, so a
    # corrupt colptr is reported by the library instead of read past.
    n = clamp(Int(colptr[end]) - 1, 0, min(length(rowval), length(nz)))
    return ScSparse(UInt64(size(A, 2)), UInt64(size(A, 1)),
                    pointer(colptr), length(colptr), pointer(rowval), n,
                    pointer(nz), n, index_code(Ti), value_code(eltype(nz)), UInt32(1))
end

# Seurat `features`: gene indices (output rows in that order, duplicates dropped like
# intersect()) or a Bool mask (kept genes in gene order) -> gene -> output column map.
function column_map(features, n_genes::Integer)
    features === nothing && return nothing
    if eltype(features) == Bool
        length(features) == n_genes ||
            throw(ArgumentError("SCScale: features mask has length $(length(features)); expected $n_genes genes"))
        features = findall(features)
    end
    map = fill(Int64(-1), n_genes)
    k = 0
    for g in features
        1 <= g <= n_genes || throw(ArgumentError("SCScale: feature $g is not a gene index in 1:$n_genes"))
        map[g] == -1 || continue
        map[g] = k
        k += 1
    end
    return map
end

# Seurat split.by: any labels per cell, `missing`/`nothing` = no group. Codes follow first
# appearance; statistics are per group, so the numbering does not change any value.
function group_codes(groups, n_cells::Integer)
    groups === nothing && return nothing, UInt32(0)
    length(groups) == n_cells ||
        throw(ArgumentError("SCScale: groups has length $(length(groups)); expected one label per cell ($n_cells)"))
    codes = Vector{Int32}(undef, n_cells)
    seen = Dict{Any,Int32}()
    for (i, g) in enumerate(groups)
        codes[i] = (g === missing || g === nothing) ? Int32(-1) : get!(seen, g, Int32(length(seen)))
    end
    return codes, UInt32(max(length(seen), 1))
end

function make_options(flavor, center, scale, scale_max, n_partitions, n_threads, cmap, codes, n_groups;
                      mean_out = nothing, var_out = nothing, std_out = nothing)
    r = Ref{ScOptions}()
    check(ccall(sym(:sc_options_default), Int32, (Ptr{ScOptions}, UInt32), r, flavor_code(flavor)))
    clip = scale_max !== nothing
    ptrlen(v) = v === nothing ? (C_NULL, 0) : (pointer(v), length(v))
    cm, cml = ptrlen(cmap)
    gp, gl = ptrlen(codes)
    mo, mol = ptrlen(mean_out)
    vo, vol = ptrlen(var_out)
    so, sol = ptrlen(std_out)
    return with_fields(r[]; center = center, scale = scale, clip = clip,
                       max_value = clip ? Float64(scale_max) : r[].max_value,
                       n_partitions = n_partitions, n_threads = n_threads,
                       column_map = cm, column_map_len = cml, groups = gp, groups_len = gl, n_groups = n_groups,
                       mean_out = mo, mean_out_len = mol, var_out = vo, var_out_len = vol,
                       std_out = so, std_out_len = sol)
end

# ---------------------------------------------------------------------------------------------
# API.

"""
    scale(A::SparseMatrixCSC; flavor = :seurat, center = true, scale = true, scale_max = 10.0,
          T = Float64, features = nothing, groups = nothing, n_partitions = 1, n_threads = 0)

Scales each gene (row) of the genes x cells matrix `A` and returns a dense `Matrix{T}` genes x
cells (rows in `features` order when given).

* `flavor = :seurat`: Seurat 4.3 `ScaleData` (`do.center = center`, `do.scale = scale`,
  `scale.max = scale_max`, `split.by = groups`; NaN becomes 0).
* `flavor = :scanpy`: Scanpy 1.12.4 `pp.scale` (`zero_center = center`, `max_value = scale_max`,
  `nothing` for None; `n_partitions` is numba's thread count T, which changes the bits; `groups`
  with `missing` for cells outside the mask acts as `mask_obs`).
* `features`: gene indices (or a Bool mask) to keep; `groups`: one label per cell, `missing` = none.
* `n_threads`: worker threads (0 = all cores); never changes the result.

Errors from the library are thrown as [`SCScaleError`](@ref).
"""
function scale(A::SparseMatrixCSC; T::Type = Float64, features = nothing, kw...)
    n_out = features === nothing ? size(A, 1) : count(!=(-1), column_map(features, size(A, 1)))
    out = Matrix{T}(undef, n_out, size(A, 2))
    return scale!(out, A; features = features, kw...)
end

"""
    scale!(out::StridedMatrix, A::SparseMatrixCSC; kw...)

In-place [`scale`](@ref): writes into `out` (Float32 or Float64, genes x cells, unit stride along
genes; any column stride), which must have one row per output gene and one column per cell.
"""
function scale!(out::StridedMatrix{W}, A::SparseMatrixCSC; flavor::Symbol = :seurat, center::Bool = true,
                scale::Bool = true, scale_max::Union{Real,Nothing} = 10.0, features = nothing, groups = nothing,
                n_partitions::Integer = 1, n_threads::Integer = 0) where {W}
    n_genes, n_cells = size(A)
    cmap = column_map(features, n_genes)
    n_out = cmap === nothing ? n_genes : count(!=(-1), cmap)
    size(out) == (n_out, n_cells) ||
        throw(DimensionMismatch("SCScale: out is $(size(out)); expected ($n_out, $n_cells) (genes x cells)"))
    stride(out, 1) == 1 || throw(ArgumentError("SCScale: out must have unit stride along genes"))
    codes, n_groups = group_codes(groups, n_cells)
    nz = float_values(A)
    GC.@preserve A nz out cmap codes begin
        x = Ref(sparse_struct(A, nz))
        opts = Ref(make_options(flavor, center, scale, scale_max, n_partitions, n_threads, cmap, codes, n_groups))
        # Memory of the last element + 1, so a column stride past the end is not required.
        len = n_cells == 0 ? 0 : (n_cells - 1) * stride(out, 2) + n_out
        o = Ref(ScDenseOut(pointer(out), len, value_code(W), UInt64(n_out), UInt64(stride(out, 2))))
        check(ccall(sym(:sc_scale_csr), Int32, (Ptr{ScSparse}, Ptr{ScOptions}, Ptr{ScDenseOut}), x, opts, o))
    end
    return out
end

"""
    scale_values!(out::Vector, A::SparseMatrixCSC; scale_max = nothing, groups = nothing,
                  n_partitions = 1, n_threads = 0)

Scanpy `pp.scale(zero_center = False)` on CSR: one value per stored entry of `A`, `v / std` then
`min(max_value, q)` (NaN becomes max_value), written into `out` (Float32 or Float64; may be
`nonzeros(A)` itself to scale in place). Cells with a `missing` group label (outside `mask_obs`)
keep their values.
"""
function scale_values!(out::Vector{W}, A::SparseMatrixCSC; scale_max::Union{Real,Nothing} = nothing,
                       groups = nothing, n_partitions::Integer = 1, n_threads::Integer = 0) where {W}
    codes, n_groups = group_codes(groups, size(A, 2))
    nz = float_values(A)
    GC.@preserve A nz out codes begin
        x = Ref(sparse_struct(A, nz))
        opts = Ref(make_options(:scanpy, false, true, scale_max, n_partitions, n_threads, nothing, codes, n_groups))
        o = Ref(ScValuesOut(pointer(out), length(out), value_code(W)))
        check(ccall(sym(:sc_scale_csr_values), Int32, (Ptr{ScSparse}, Ptr{ScOptions}, Ptr{ScValuesOut}), x, opts, o))
    end
    return out
end

"""
    scale_values(A::SparseMatrixCSC; T = eltype of A's values, kw...)

[`scale_values!`](@ref) into a new `SparseMatrixCSC{T}` with `A`'s sparsity pattern (Scanpy's
CSR result for `zero_center = False`).
"""
function scale_values(A::SparseMatrixCSC{Tv}; T::Type = (Tv <: Union{Float32,Float64} ? Tv : Float64), kw...) where {Tv}
    n = Int(A.colptr[end]) - 1
    vals = scale_values!(Vector{T}(undef, n), A; kw...)
    return SparseMatrixCSC(size(A, 1), size(A, 2), copy(A.colptr), A.rowval[1:n], vals)
end

"""
    stats(A::SparseMatrixCSC; flavor = :seurat, center = true, scale = true, groups = nothing,
          n_partitions = 1)

Per-gene statistics the scaling uses, as `(mean, var, std)`, each genes x groups.
"""
function stats(A::SparseMatrixCSC; flavor::Symbol = :seurat, center::Bool = true, scale::Bool = true,
               groups = nothing, n_partitions::Integer = 1, n_threads::Integer = 0)
    n_genes, n_cells = size(A)
    codes, n_groups = group_codes(groups, n_cells)
    G = max(Int(n_groups), 1)
    mean, var, sd = (Matrix{Float64}(undef, n_genes, G) for _ in 1:3)
    nz = float_values(A)
    GC.@preserve A nz codes mean var sd begin
        x = Ref(sparse_struct(A, nz))
        opts = Ref(make_options(flavor, center, scale, nothing, n_partitions, n_threads, nothing, codes, n_groups;
                                mean_out = mean, var_out = var, std_out = sd))
        check(ccall(sym(:sc_stats_csr), Int32, (Ptr{ScSparse}, Ptr{ScOptions}), x, opts))
    end
    return (mean = mean, var = var, std = sd)
end

end # module
