// common.cl: helpers shared by every kernel file; the host prepends this file to each
// program's source before compiling it.
//
// Helpers are `static inline`: a plain `inline` definition follows C99 and emits no body of
// its own, so a call the compiler declines to inline is an unresolved symbol (NVIDIA's
// ptxas refuses the program). Kernels that only the CPU shape launches (barrier-free, a row
// or chunk per work-item, float16 lanes) sit inside `#ifdef CPU_SHAPE`, which the host
// defines in every program of a CPU-shaped backend (KernelPlan.options): a GPU
// never compiles them.

// ---- Precision (--precision; Sources/CycleGAN/Tensor/Precision.swift) ----------------------
// Activations and their gradients are act_t buffers, read with LD and written with ST. They
// are float, except in the programs built with -DACT_HALF (--precision mixed), where they are
// FP16 storage, converted by vload_half / vstore_half_rte (core OpenCL 1.2: no extension).
// All arithmetic is float. Weights, statistics and scratch stay float in every program. The
// host runs the FP16 program of a kernel when one of its buffers is FP16.
// LD16 and ST16 move 16 consecutive values at p (no alignment needed).
#ifdef ACT_HALF
#define act_t half
#define LD(p, i) vload_half((i), (p))
#define ST(p, i, v) vstore_half_rte((v), (i), (p))
#define LD16(p) vload_half16(0, (p))
#define ST16(v, p) vstore_half16_rte((v), 0, (p))
#else
#define act_t float
#define LD(p, i) ((p)[i])
#define ST(p, i, v) ((p)[i] = (v))
#define LD16(p) vload16(0, (p))
#define ST16(v, p) vstore16((v), 0, (p))
#endif

// x rounded to TF32 (FP32's sign and exponent, 10 mantissa bits): ties to even on the 13
// dropped bits; inf and NaN returned as they are, a carry past the largest finite value
// gives inf. The host's twin is Rounding.tf32.
static inline float round_tf32(float x) {
    uint u = as_uint(x);
    if ((u & 0x7f800000u) == 0x7f800000u) return x;
    return as_float((u + 0xfffu + ((u >> 13) & 1u)) & 0xffffe000u);
}

// x rounded to the nearest FP16 value, ties to even, as vstore_half_rte would store it, but
// kept in a float: FP16 normals have TF32's 10 mantissa bits; below 2^-14 the subnormals are
// the multiples of 2^-24; from 65520 (halfway past 65504) on, infinity. The host's twin is
// Rounding.half.
static inline float round_half(float x) {
    float a = fabs(x);
    if (isnan(x)) return x;
    if (a >= 65520.0f) return copysign(INFINITY, x);
    if (a < 6.103515625e-05f) return copysign(rint(a * 16777216.0f) * 5.9604644775390625e-08f, x);
    return round_tf32(x);
}

// The convolutions' operands as their products read them: ROUND_X for an input or output
// gradient, ROUND_W for a weight. With -DROUND_TF32 (--precision tf32) both round to TF32;
// in the FP16 programs the activations are FP16 already and a weight rounds to FP16 (as
// autocast's weight.half()); otherwise both are the value itself.
#if defined(ACT_HALF)
#define ROUND_X(v) (v)
#define ROUND_W(v) round_half(v)
#elif defined(ROUND_TF32)
#define ROUND_X(v) round_tf32(v)
#define ROUND_W(v) round_tf32(v)
#else
#define ROUND_X(v) (v)
#define ROUND_W(v) (v)
#endif

// Maps a coordinate of a reflect-padded axis back into [0, n) (PyTorch's ReflectionPad2d:
// the edge is not repeated).
static inline int reflect_index(int i, int n) {
    return i < 0 ? -i : (i >= n ? 2 * n - 2 - i : i);
}

// The coordinates of the padded axis (size n + 2*pad) that read input coordinate i:
// i + pad always; with reflect also pad - i (for 1 <= i <= pad) and pad + 2n - 2 - i
// (for n-1-pad <= i <= n-2), the mirrors. Writes them to out[0..3) and returns the count.
static inline int reflect_preimages(int i, int n, int pad, int reflect, int out[3]) {
    int count = 0;
    out[count++] = i + pad;
    if (reflect) {
        if (i >= 1 && i <= pad) out[count++] = pad - i;
        if (i >= n - 1 - pad && i <= n - 2) out[count++] = pad + 2 * n - 2 - i;
    }
    return count;
}

// Sums v over the work-group by a tree in local memory (local size a power of 2); every
// work-item gets the total. Ends with a barrier so `scratch` can be reused at once.
static inline float tree_sum(float v, __local float* scratch) {
    int lid = get_local_id(0), ls = get_local_size(0);
    scratch[lid] = v;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int s = ls / 2; s > 0; s >>= 1) {
        if (lid < s) scratch[lid] += scratch[lid + s];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    float total = scratch[0];
    barrier(CLK_LOCAL_MEM_FENCE);
    return total;
}

// The register tile of GEMM version 2's kernels (gemm_tiled, conv2d_s1_tiled,
// conv2d_s1_wgrad_tiled), as macros because TM, TN and KS are the including program's
// build options: TILE_ZERO declares and clears `acc`; TILE_SLICE_FMA accumulates one staged
// slice, k in order, the work-item's TM values of As (column ty) times its TN values of Bs
// (column tx), rows lda and ldb floats apart.
// GEMM version 2's work-group tile (its build options set them; these are the defaults),
// and the row lengths of its local tiles, padded by one panel against bank conflicts.
#ifndef WGM
#define WGM 16
#endif
#ifndef WGN
#define WGN 16
#endif
#ifndef KS
#define KS 16
#endif
#define TILE_LDA (WGM * TM + TM)
#define TILE_LDB (WGN * TN + TN)
// The staging is double-buffered: each local tile holds two slices, and every work-item
// loads its share of the next slice from global memory into registers (TILE_A_PER and
// TILE_B_PER floats) before it computes on the current one, then stores them into the other
// buffer: one barrier per slice, and the global loads in flight during the FMAs.
#define TILE_THREADS (WGM * WGN)
#define TILE_A_PER ((WGM * KS * TM + TILE_THREADS - 1) / TILE_THREADS)
#define TILE_B_PER ((WGN * KS * TN + TILE_THREADS - 1) / TILE_THREADS)
#define TILE_A_SIZE (KS * TILE_LDA)
#define TILE_B_SIZE (KS * TILE_LDB)

#define TILE_ZERO(acc)                                                   \
    float acc[TM][TN];                                                   \
    _Pragma("unroll") for (int i_ = 0; i_ < TM; i_++)                    \
        _Pragma("unroll") for (int j_ = 0; j_ < TN; j_++) acc[i_][j_] = 0.0f

#define TILE_SLICE_FMA(As, lda, Bs, ldb, ty, tx, acc)                                        \
    for (int k_ = 0; k_ < KS; k_++) {                                                        \
        float av_[TM], bv_[TN];                                                              \
        _Pragma("unroll") for (int i_ = 0; i_ < TM; i_++) av_[i_] = (As)[k_ * (lda) + (ty) * TM + i_]; \
        _Pragma("unroll") for (int j_ = 0; j_ < TN; j_++) bv_[j_] = (Bs)[k_ * (ldb) + (tx) * TN + j_]; \
        _Pragma("unroll") for (int i_ = 0; i_ < TM; i_++)                                   \
            _Pragma("unroll") for (int j_ = 0; j_ < TN; j_++)                                \
                acc[i_][j_] = fma(av_[i_], bv_[j_], acc[i_][j_]);                            \
    }

// The double-buffered walk over slices [k0, k1) of the reduction: LOAD(k) fetches the slice
// starting at k into the work-item's registers, STORE(buf) writes them into local buffer
// buf; each slice is computed (TILE_SLICE_FMA) while the next one is in flight.
#define TILE_DOUBLE_BUFFERED(k0, k1, LOAD, STORE, As, Bs, ty, tx, acc)                           \
    LOAD(k0)                                                                                     \
    STORE(0)                                                                                     \
    barrier(CLK_LOCAL_MEM_FENCE);                                                                \
    for (int ks_ = (k0), buf_ = 0; ks_ < (k1); ks_ += KS, buf_ ^= 1) {                           \
        int more_ = ks_ + KS < (k1);                                                             \
        if (more_) { LOAD(ks_ + KS) }                                                            \
        TILE_SLICE_FMA((As) + buf_ * TILE_A_SIZE, TILE_LDA, (Bs) + buf_ * TILE_B_SIZE, TILE_LDB, ty, tx, acc); \
        if (more_) { STORE(buf_ ^ 1) }                                                           \
        barrier(CLK_LOCAL_MEM_FENCE);                                                            \
    }
