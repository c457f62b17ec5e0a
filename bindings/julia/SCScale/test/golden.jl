# The core's golden files (tests/golden: outputs of the real Seurat 4.3.0 and Scanpy 1.12.4).
# The CSR cells x genes input becomes a SparseMatrixCSC genes x cells; kind csr_dense is
# `scale` (the Matrix genes x cells must hold the tool's exact bytes), csr_values is
# `scale_values` (the values in stored order).

# meta.json files are flat objects of strings, numbers, booleans and null.
function json_get(json::AbstractString, key::AbstractString)
    m = match(Regex("\"" * key * "\"\\s*:\\s*(\"([^\"]*)\"|[^,}\\s]+)"), json)
    m === nothing && return nothing
    m.captures[2] !== nothing && return String(m.captures[2])
    m.captures[1] == "null" && return nothing
    return String(m.captures[1])
end

readvec(::Type{T}, path) where {T} = reinterpret(T, read(path)) |> collect

function golden_matrix(dir)
    meta = read(joinpath(dir, "meta.json"), String)
    cells = parse(Int, json_get(meta, "n_rows"))
    genes = parse(Int, json_get(meta, "n_cols"))
    Tv = json_get(meta, "value_type") == "float32" ? Float32 : Float64
    indptr = readvec(Int32, joinpath(dir, "indptr.bin")) .+ Int32(1)
    indices = readvec(Int32, joinpath(dir, "indices.bin")) .+ Int32(1)
    return SparseMatrixCSC{Tv,Int32}(genes, cells, indptr, indices, readvec(Tv, joinpath(dir, "data.bin")))
end

@testset "golden files of the real tools" begin
    golden = joinpath(ROOT, "tests", "golden")
    if !isdir(golden)
        @info "no tests/golden; golden comparisons skipped"
    else
        n = 0
        for tool in ("seurat", "scanpy"), case in readdir(joinpath(golden, tool))
            dir = joinpath(golden, tool, case)
            meta = read(joinpath(dir, "meta.json"), String)
            kind = json_get(meta, "kind")
            kind in ("csr_dense", "csr_values") || continue
            A = golden_matrix(joinpath(golden, "inputs", json_get(meta, "input")))
            W = json_get(meta, "out_type") == "float32" ? Float32 : Float64
            center = something(json_get(meta, "zero_center"), json_get(meta, "center"), "true") == "true"
            mv = json_get(meta, "max_value")
            groups = isfile(joinpath(dir, "groups.bin")) ?
                     [g < 0 ? missing : g for g in readvec(Int32, joinpath(dir, "groups.bin"))] : nothing
            features = nothing
            if isfile(joinpath(dir, "column_map.bin"))
                cmap = readvec(Int64, joinpath(dir, "column_map.bin"))
                kept = [(c, g) for (g, c) in enumerate(cmap) if c >= 0]
                features = [g for (c, g) in sort(kept)]
            end
            got = kind == "csr_values" ?
                  nonzeros(scale_values(A; T = W, scale_max = mv === nothing ? nothing : parse(Float64, mv),
                                        groups = groups,
                                        n_partitions = parse(Int, something(json_get(meta, "n_partitions"), "1")))) :
                  scale(A; flavor = Symbol(tool), center = center,
                        scale = something(json_get(meta, "scale"), "true") == "true",
                        scale_max = mv === nothing ? nothing : parse(Float64, mv), T = W, features = features,
                        groups = groups, n_partitions = parse(Int, something(json_get(meta, "n_partitions"), "1")))
            bytes = collect(reinterpret(UInt8, vec(got)))
            ok = isfile(joinpath(dir, "out.bin")) ? bytes == read(joinpath(dir, "out.bin")) : true
            sha = json_get(meta, "out_sha256")
            ok &= sha === nothing || bytes2hex(sha256(bytes)) == sha
            ok || @info "golden mismatch" tool case
            @test ok
            n += 1
        end
        @test n > 300
        @info "golden csr_dense and csr_values cases compared" n
    end
end
