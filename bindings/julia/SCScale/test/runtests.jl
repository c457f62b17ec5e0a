# Run with: julia --project=bindings/julia/SCScale bindings/julia/SCScale/test/runtests.jl
using Test
using SparseArrays
using SCScale
using SHA

include(joinpath(@__DIR__, "reference.jl"))
using .Reference

const ROOT = normpath(joinpath(@__DIR__, "..", "..", "..", ".."))

bits(a::AbstractArray{Float64}) = reinterpret(UInt64, vec(collect(a)))
bits(a::AbstractArray{Float32}) = reinterpret(UInt32, vec(collect(a)))
# Bit patterns: NaN payloads and signed zeros count.
bitwise(a, b) = size(a) == size(b) && eltype(a) == eltype(b) && bits(a) == bits(b)

@testset "SCScale" begin

@testset "library" begin
    @test isfile(SCScale.library_path())
    # The crate's version, as the generated header states it.
    h = read(joinpath(ROOT, "include", "scscale.h"), String)
    @test SCScale.version() == match(r"#define SCSCALE_VERSION \"([^\"]+)\"", h)[1]
end

@testset "struct layout matches scscale.h" begin
    cc = something(Sys.which("cc"), Sys.which("gcc"), Sys.which("clang"), Some(nothing))
    @test cc !== nothing
    dir = mktempdir()
    src = joinpath(dir, "layout.c")
    structs = [(SCScale.ScOptions, "sc_options"), (SCScale.ScSparse, "sc_sparse"), (SCScale.ScDenseOut, "sc_dense_out"),
               (SCScale.ScValuesOut, "sc_values_out")]
    open(src, "w") do io
        println(io, "#include <stdio.h>\n#include <stddef.h>\n#include \"scscale.h\"\nint main(void) {")
        for (T, c) in structs
            println(io, "  printf(\"$c sizeof %zu\\n\", sizeof(struct $c));")
            for f in fieldnames(T)
                println(io, "  printf(\"$c $f %zu\\n\", offsetof(struct $c, $f));")
            end
        end
        println(io, "  return 0;\n}")
    end
    exe = joinpath(dir, "layout")
    run(`$cc -I$(joinpath(ROOT, "include")) $src -o $exe`)
    got = Dict{String,Int}()
    for line in eachline(`$exe`)
        s, f, v = split(line)
        got["$s.$f"] = parse(Int, v)
    end
    for (T, c) in structs
        @test got["$c.sizeof"] == sizeof(T)
        for (i, f) in enumerate(fieldnames(T))
            @test got["$c.$f"] == fieldoffset(T, i)
        end
    end
end

@testset "Seurat matches the reference bitwise" begin
    k = 0
    for (G, C, d) in ((5, 1, 0.5), (8, 2, 0.6), (23, 37, 0.3), (40, 150, 0.15)),
        Tv in (Float64, Float32), Ti in (Int64, Int32),
        (center, sc) in ((true, true), (false, true), (true, false), (false, false)),
        scale_max in (10.0, 0.5, -1.0, nothing)
        k += 1
        A = Reference.random_matrix(100 + k, G, C, d, Tv, Ti)
        features = k % 3 == 0 ? reverse([g for g in 1:G if g % 3 != 0]) : nothing
        groups = k % 2 == 0 ? [(j * 7 + k) % 4 == 0 ? missing : "g$((j * 7 + k) % 4)" for j in 1:C] : nothing
        W = k % 5 == 0 ? Float32 : Float64
        want = Reference.seurat(A, W; center = center, scale = sc, scale_max = scale_max, features = features,
                                groups = groups)
        got = scale(A; center = center, scale = sc, scale_max = scale_max, T = W, features = features,
                    groups = groups, n_threads = 1 + k % 2)
        ok = bitwise(got, want)
        ok || @info "Seurat mismatch" k G C Tv Ti center sc scale_max features groups
        @test ok
    end
end

@testset "Scanpy matches the reference bitwise" begin
    k = 0
    for (G, C, d) in ((5, 1, 0.5), (8, 2, 0.6), (23, 37, 0.3), (40, 150, 0.15)),
        Tv in (Float32, Float64), T in (1, 2, 3), center in (true, false), scale_max in (nothing, 10.0, 0.5)
        k += 1
        A = Reference.random_matrix(5000 + k, G, C, d, Tv, k % 2 == 0 ? Int64 : Int32)
        features = k % 4 == 0 ? [g for g in G:-1:1 if g % 2 == 0] : nothing
        groups = k % 3 == 0 ? [j % 3 == 0 ? missing : j % 2 for j in 1:C] : nothing
        want = Reference.scanpy(A; center = center, scale_max = scale_max, n_partitions = T, features = features,
                                groups = groups)
        got = scale(A; flavor = :scanpy, center = center, scale_max = scale_max, n_partitions = T,
                    features = features, groups = groups)
        ok = bitwise(got, want)
        ok || @info "Scanpy mismatch" k G C Tv T center scale_max features groups
        @test ok
    end
end

@testset "Scanpy zero_center=false values match the reference bitwise" begin
    k = 0
    for (G, C, d) in ((5, 1, 0.5), (23, 37, 0.3), (40, 150, 0.15)), Tv in (Float32, Float64), T in (1, 3),
        scale_max in (nothing, 10.0, 0.5), masked in (false, true)
        k += 1
        A = Reference.random_matrix(7000 + k, G, C, d, Tv)
        groups = masked ? [j % 3 == 0 ? missing : 1 for j in 1:C] : nothing
        want = Reference.scanpy_values(A; scale_max = scale_max, n_partitions = T, groups = groups)
        got = scale_values(A; scale_max = scale_max, n_partitions = T, groups = groups)
        @test got.colptr == A.colptr && got.rowval == A.rowval
        @test bitwise(nonzeros(got), want)
        B = copy(A)
        scale_values!(nonzeros(B), B; scale_max = scale_max, n_partitions = T, groups = groups)  # in place
        @test bitwise(nonzeros(B), want)
        @test bitwise(nonzeros(scale_values(A; T = Float64, scale_max = scale_max, n_partitions = T, groups = groups)),
                      Reference.scanpy_values(A, Float64; scale_max = scale_max, n_partitions = T, groups = groups))
    end
end

@testset "empty and degenerate shapes" begin
    for A in (spzeros(5, 0), spzeros(0, 4), spzeros(3, 4), sparse([1], [1], [2.0], 1, 1))
        @test bitwise(scale(A), Reference.seurat(A))
        @test bitwise(scale(A; flavor = :scanpy, scale_max = nothing), Reference.scanpy(A))
        @test nnz(scale_values(A)) == nnz(A)
    end
end

@testset "spare capacity in rowval/nzval is ignored" begin
    A = Reference.random_matrix(12, 10, 20, 0.4)
    B = SparseMatrixCSC(A.m, A.n, copy(A.colptr), [A.rowval; Int64[3, 3]], [A.nzval; [1e300, 1e300]])
    @test bitwise(scale(B), scale(A))
    @test bitwise(scale(B; flavor = :scanpy), scale(A; flavor = :scanpy))
end

@testset "the reference tells the arithmetic apart" begin
    A = Reference.random_matrix(77, 40, 150, 0.3, Float64)
    @test !bitwise(Reference.scanpy(A; n_partitions = 1), Reference.scanpy(A; n_partitions = 2))
    @test !bitwise(scale(A; flavor = :scanpy, n_partitions = 2), Reference.scanpy(A; n_partitions = 1))
    @test !bitwise(scale(A; scale_max = nothing), Reference.scanpy(A))
end

@testset "scale! writes in place, strided, without copying the matrix" begin
    A = Reference.random_matrix(9, 30, 200, 0.2)
    want = Reference.seurat(A)
    big = fill(-7.0, 35, 200)
    v = view(big, 3:32, :)
    @test scale!(v, A) === v
    @test bitwise(big[3:32, :], want)
    @test all(==(-7.0), big[1:2, :]) && all(==(-7.0), big[33:35, :])
    out = Matrix{Float64}(undef, 30, 200)
    scale!(out, A)
    @test bitwise(out, want)
    # Indices and values go to the library as they are: no O(nnz) allocation.
    B = sprand(2000, 3000, 0.05)
    outB = Matrix{Float64}(undef, 2000, 3000)
    scale!(outB, B)
    @test (@allocated scale!(outB, B)) < 20_000
    @test nnz(B) * 8 > 1_000_000
end

@testset "stats" begin
    A = Reference.random_matrix(11, 12, 40, 0.4)
    s = SCScale.stats(A; groups = [j % 2 for j in 1:40])
    @test size(s.mean) == (12, 2)
    s1 = SCScale.stats(A)
    @test s1.std[2] == sqrt(s1.var[2])
end

@testset "errors carry the library's message" begin
    A = Reference.random_matrix(3, 6, 5, 0.5)
    err(f) = try
        f()
        nothing
    catch e
        e
    end
    e = err(() -> scale(A; flavor = :scanpy, n_partitions = 0))
    @test e isa SCScaleError
    @test e.name == "SC_STATUS_INVALID_OPTION" && occursin("n_partitions", e.message)
    @test occursin("SC_STATUS_INVALID_OPTION", sprint(showerror, e))
    e = err(() -> scale(A; flavor = :scanpy, scale = false))
    @test e isa SCScaleError && e.name == "SC_STATUS_INVALID_OPTION"
    bad = copy(A)
    bad.rowval[1] = 99
    e = err(() -> scale(bad))
    @test e isa SCScaleError && e.name == "SC_STATUS_INDEX_OUT_OF_RANGE" && occursin("99", e.message)
    bad = copy(A)
    bad.colptr[end] += 1
    e = err(() -> scale(bad))
    @test e isa SCScaleError && e.name == "SC_STATUS_INDPTR_END"
    dup = SparseMatrixCSC(3, 2, [1, 3, 4], [2, 2, 1], [1.0, 2.0, 3.0])
    e = err(() -> scale(dup))
    @test e isa SCScaleError && e.name == "SC_STATUS_DUPLICATE_ENTRY"
    # Scanpy: statistics see each stored entry, todense() sums them (spec 2a).
    @test bitwise(scale(dup; flavor = :scanpy), Reference.scanpy(dup))
    @test err(() -> scale(A; scale_max = NaN)) isa SCScaleError
    @test err(() -> scale(A; flavor = :other)) isa ArgumentError
    @test err(() -> scale(A; features = [7])) isa ArgumentError
    @test err(() -> scale(A; groups = [1, 2])) isa ArgumentError
    @test err(() -> scale!(zeros(5, 5), A)) isa DimensionMismatch
    @test err(() -> scale!(zeros(Int, 6, 5), A)) isa ArgumentError
    @test err(() -> scale(SparseMatrixCSC{Float64,Int16}(A))) isa ArgumentError
    # Integer counts are cast to Float64 (values copied, indices not).
    C = SparseMatrixCSC{Int,Int}(3, 2, [1, 2, 3], [1, 2], [4, 5])
    @test bitwise(scale(C), scale(SparseMatrixCSC{Float64,Int}(C)))
end

@testset "example runs" begin
    example = joinpath(ROOT, "examples", "julia", "example.jl")
    cmd = `$(Base.julia_cmd()) --startup-file=no --project=$(joinpath(ROOT, "bindings", "julia", "SCScale")) $example`
    out = read(cmd, String)
    @test occursin("Seurat", out) && occursin("Scanpy", out)
end

include(joinpath(@__DIR__, "golden.jl"))

end
