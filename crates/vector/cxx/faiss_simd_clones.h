// Force-included into every C++ file of the FAISS build (`-include`, .cargo/config.toml).
//
// FAISS 1.12 picks its SIMD code when it is compiled, and aimdb compiles it for AVX2 so a
// binary runs on any x86-64 CPU since 2013. Its per-vector distance kernels (inner product,
// squared L2 and norms, one vector or four: what IVF-Flat lists and exact search scan) are
// the functions FAISS marks with FAISS_PRAGMA_IMPRECISE_FUNCTION_BEGIN. GCC's
// `target_clones` compiles each of them twice, for AVX2 and for AVX-512 (x86-64-v4), and
// picks one per process at load (an ifunc): AVX-512 machines get the wider kernels, every
// other machine the AVX2 ones, from one binary. Only GCC on x86-64 (FAISS's pragma differs
// under clang); a build for AVX-512 already has nothing to choose.
#if defined(__cplusplus) && defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && \
        !defined(__AVX512F__) && defined(__has_include)
#if __has_include(<faiss/impl/platform_macros.h>)
#include <faiss/impl/platform_macros.h>
#undef FAISS_PRAGMA_IMPRECISE_FUNCTION_BEGIN
#define FAISS_PRAGMA_IMPRECISE_FUNCTION_BEGIN                                     \
    _Pragma("GCC push_options")                                                   \
    _Pragma("GCC optimize (\"unroll-loops,associative-math,no-signed-zeros\")") \
    __attribute__((target_clones("default", "arch=x86-64-v4")))
#endif
#endif
