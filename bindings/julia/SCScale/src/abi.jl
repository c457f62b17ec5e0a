# Mirrors of include/scscale.h (ABI 1). Field order and types must match the C structs exactly;
# test/runtests.jl compares every offset with a C program compiled against the header.

const SC_STATUS_OK = Int32(0)
const SC_FLAVOR_SCANPY = UInt32(0)
const SC_FLAVOR_SEURAT = UInt32(1)
const SC_INDEX_INT32 = UInt32(0)
const SC_INDEX_INT64 = UInt32(1)
const SC_VALUE_FLOAT32 = UInt32(0)
const SC_VALUE_FLOAT64 = UInt32(1)

struct ScOptions
    flavor::UInt32
    center::Bool
    scale::Bool
    clip::Bool
    max_value::Float64
    n_partitions::UInt32
    n_threads::UInt32
    column_map::Ptr{Int64}
    column_map_len::Csize_t
    groups::Ptr{Int32}
    groups_len::Csize_t
    n_groups::UInt32
    given_mean::Ptr{Float64}
    given_mean_len::Csize_t
    given_std::Ptr{Float64}
    given_std_len::Csize_t
    mean_out::Ptr{Float64}
    mean_out_len::Csize_t
    var_out::Ptr{Float64}
    var_out_len::Csize_t
    std_out::Ptr{Float64}
    std_out_len::Csize_t
    progress::Ptr{Cvoid}
    progress_data::Ptr{Cvoid}
    no_hugepage_advice::Bool
end

struct ScSparse
    n_rows::UInt64
    n_cols::UInt64
    indptr::Ptr{Cvoid}
    indptr_len::Csize_t
    indices::Ptr{Cvoid}
    indices_len::Csize_t
    data::Ptr{Cvoid}
    data_len::Csize_t
    index_type::UInt32
    value_type::UInt32
    index_base::UInt32
end

struct ScDenseOut
    data::Ptr{Cvoid}
    data_len::Csize_t
    value_type::UInt32
    n_cols::UInt64
    row_stride::UInt64
end

struct ScValuesOut
    data::Ptr{Cvoid}
    data_len::Csize_t
    value_type::UInt32
end

# A copy of an immutable struct with some fields replaced (converted to the field types).
function with_fields(x::T; kw...) where {T}
    vals = map(fieldnames(T)) do f
        haskey(kw, f) ? convert(fieldtype(T, f), kw[f]) : getfield(x, f)
    end
    return T(vals...)
end
