// The core's golden files (tests/golden: outputs of the real Scanpy 1.12.4 and Seurat 4.3.0) run
// through the C++ wrapper: every case must give the same output bytes, means and stds.
#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <regex>
#include <sstream>

#include "common.hpp"

namespace fs = std::filesystem;

namespace {

std::string slurp(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

// The meta.json files are flat objects of strings, numbers, booleans and null.
std::optional<std::string> json_get(const std::string& json, const std::string& key) {
  const std::regex re("\"" + key + "\"\\s*:\\s*(\"([^\"]*)\"|[^,}\\s]+)");
  std::smatch m;
  if (!std::regex_search(json, m, re)) return std::nullopt;
  if (m[2].matched) return m[2].str();
  if (m[1].str() == "null") return std::nullopt;
  return m[1].str();
}

template <class T>
std::vector<T> read_vec(const fs::path& p) {
  const std::string b = slurp(p);
  std::vector<T> v(b.size() / sizeof(T));
  std::memcpy(v.data(), b.data(), v.size() * sizeof(T));
  return v;
}

// Minimal SHA-256 (FIPS 180-4) for the cases that store only the output's digest.
std::string sha256_hex(const unsigned char* data, std::size_t len) {
  static const uint32_t k[64] = {
      0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98,
      0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
      0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8,
      0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
      0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819,
      0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
      0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
      0xc67178f2};
  uint32_t h[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
  std::vector<unsigned char> msg(data, data + len);
  msg.push_back(0x80);
  while (msg.size() % 64 != 56) msg.push_back(0);
  const uint64_t bitlen = uint64_t(len) * 8;
  for (int i = 7; i >= 0; --i) msg.push_back(static_cast<unsigned char>(bitlen >> (i * 8)));
  auto rotr = [](uint32_t x, int n) { return (x >> n) | (x << (32 - n)); };
  for (std::size_t off = 0; off < msg.size(); off += 64) {
    uint32_t w[64];
    for (int i = 0; i < 16; ++i)
      w[i] = uint32_t(msg[off + 4 * i]) << 24 | uint32_t(msg[off + 4 * i + 1]) << 16 |
             uint32_t(msg[off + 4 * i + 2]) << 8 | uint32_t(msg[off + 4 * i + 3]);
    for (int i = 16; i < 64; ++i) {
      const uint32_t s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >> 3);
      const uint32_t s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >> 10);
      w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7];
    for (int i = 0; i < 64; ++i) {
      const uint32_t t1 = hh + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + k[i] + w[i];
      const uint32_t t2 = (rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
      hh = g; g = f; f = e; e = d + t1; d = c; c = b; b = a; a = t1 + t2;
    }
    h[0] += a; h[1] += b; h[2] += c; h[3] += d; h[4] += e; h[5] += f; h[6] += g; h[7] += hh;
  }
  char hex[65];
  for (int i = 0; i < 8; ++i) std::snprintf(hex + 8 * i, 9, "%08x", h[i]);
  return std::string(hex, 64);
}

struct Input {
  std::string meta;
  std::string indptr, indices, data;  // raw bytes, re-read into typed vectors below
  uint64_t n_rows = 0, n_cols = 0;
};

template <class T>
scscale::span<const T> as_span(const std::vector<T>& v) {
  return scscale::span<const T>(v.data(), v.size());
}

// Runs one case through the wrapper; returns "" or the first difference.
template <class V, class W>
std::string run_case(const fs::path& dir, const std::string& meta, const fs::path& in_dir, const std::string& in_meta) {
  const uint64_t n_rows = std::stoull(*json_get(in_meta, "n_rows"));
  const uint64_t n_cols = std::stoull(*json_get(in_meta, "n_cols"));
  const bool seurat = json_get(meta, "flavor").value_or("") == "seurat";
  scscale::options o(seurat ? scscale::flavor::seurat : scscale::flavor::scanpy);
  const auto center = json_get(meta, "zero_center") ? json_get(meta, "zero_center") : json_get(meta, "center");
  o.center(*center == "true").scale(json_get(meta, "scale").value_or("true") == "true");
  if (const auto mv = json_get(meta, "max_value")) o.clip(std::stod(*mv));
  else o.no_clip();
  o.n_partitions(uint32_t(std::stoul(json_get(meta, "n_partitions").value_or("1")))).n_threads(2);
  std::vector<int32_t> groups;
  if (fs::exists(dir / "groups.bin")) {
    groups = read_vec<int32_t>(dir / "groups.bin");
    o.groups(groups, uint32_t(std::stoul(json_get(meta, "n_groups").value_or("1"))));
  }
  std::vector<int64_t> map;
  if (fs::exists(dir / "column_map.bin")) {
    map = read_vec<int64_t>(dir / "column_map.bin");
    o.column_map(map);
  }
  const std::size_t n_stats = std::size_t(o.n_groups() * n_cols);
  std::vector<double> mean(n_stats), sd(n_stats);
  o.mean_out(mean).std_out(sd);

  const std::string kind = *json_get(meta, "kind");
  const std::size_t out_len = std::stoull(*json_get(meta, "out_len"));
  std::vector<W> out(out_len);
  const uint64_t n_out =
      n_rows ? out_len / n_rows : std::stoull(json_get(meta, "n_out").value_or(std::to_string(n_cols)));
  const scscale::dense_out<W> dout{scscale::span<W>(out), n_out, 0};
  const auto data = read_vec<V>(in_dir / "data.bin");
  try {
    if (kind == "dense_dense") {
      scscale::scale_dense(scscale::dense_view<V>{n_rows, n_cols, as_span(data), 0}, o, dout);
    } else {
      const auto indptr = read_vec<int32_t>(in_dir / "indptr.bin");
      const auto indices = read_vec<int32_t>(in_dir / "indices.bin");
      const auto x = scscale::make_sparse(n_rows, n_cols, indptr, indices, data);
      if (kind == "csr_dense") scscale::scale_csr(x, o, dout);
      else if (kind == "csc_dense") scscale::scale_csc(x, o, dout);
      else if (kind == "csr_values") scscale::scale_csr_values(x, o, scscale::span<W>(out));
      else if (kind == "csc_values") scscale::scale_csc_values(x, o, scscale::span<W>(out));
      else return "unknown kind " + kind;
    }
  } catch (const scscale::error& e) {
    return e.what();
  }
  const auto* got = reinterpret_cast<const unsigned char*>(out.data());
  const std::size_t got_len = out.size() * sizeof(W);
  if (fs::exists(dir / "out.bin")) {
    const std::string want = slurp(dir / "out.bin");
    if (want.size() != got_len) return "output length differs";
    if (std::memcmp(want.data(), got, got_len) != 0) return "output bytes differ";
  }
  if (const auto sha = json_get(meta, "out_sha256")) {
    if (sha256_hex(got, got_len) != *sha) return "output SHA-256 differs";
  }
  for (const auto& [file, v] : {std::pair<const char*, const std::vector<double>*>{"mean.bin", &mean}, {"std.bin", &sd}}) {
    if (!fs::exists(dir / file)) continue;
    const auto want = read_vec<double>(dir / file);
    if (ref::bitwise_diff(*v, want) != "") return std::string(file) + ": " + ref::bitwise_diff(*v, want);
  }
  return "";
}

void run_tool(const char* tool) {
  const fs::path root = fs::path(SCSCALE_GOLDEN_DIR);
  if (!fs::exists(root / tool)) GTEST_SKIP() << "no golden files at " << (root / tool);
  std::size_t n = 0;
  for (const auto& entry : fs::directory_iterator(root / tool)) {
    const fs::path dir = entry.path();
    if (!fs::exists(dir / "meta.json")) continue;
    const std::string meta = slurp(dir / "meta.json");
    const fs::path in_dir = root / "inputs" / *json_get(meta, "input");
    const std::string in_meta = slurp(in_dir / "meta.json");
    const bool v32 = *json_get(in_meta, "value_type") == "float32";
    const bool w32 = *json_get(meta, "out_type") == "float32";
    const std::string r = v32 ? (w32 ? run_case<float, float>(dir, meta, in_dir, in_meta)
                                     : run_case<float, double>(dir, meta, in_dir, in_meta))
                              : (w32 ? run_case<double, float>(dir, meta, in_dir, in_meta)
                                     : run_case<double, double>(dir, meta, in_dir, in_meta));
    EXPECT_EQ(r, "") << dir.filename();
    ++n;
  }
  EXPECT_GT(n, 0u);
  std::printf("[ golden   ] %s: %zu cases\n", tool, n);
}

}  // namespace

TEST(Golden, Sha256SelfTest) {
  const std::string abc = "abc";
  EXPECT_EQ(sha256_hex(reinterpret_cast<const unsigned char*>(abc.data()), 3),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}
TEST(Golden, SeuratCases) { run_tool("seurat"); }
TEST(Golden, ScanpyCases) { run_tool("scanpy"); }
