// common.cl: helpers shared by every kernel file; the host prepends this file to each
// program's source before compiling it.

// Maps a coordinate of a reflect-padded axis back into [0, n) (PyTorch's ReflectionPad2d:
// the edge is not repeated).
inline int reflect_index(int i, int n) {
    return i < 0 ? -i : (i >= n ? 2 * n - 2 - i : i);
}

// The coordinates of the padded axis (size n + 2*pad) that read input coordinate i:
// i + pad always; with reflect also pad - i (for 1 <= i <= pad) and pad + 2n - 2 - i
// (for n-1-pad <= i <= n-2), the mirrors. Writes them to out[0..3) and returns the count.
inline int reflect_preimages(int i, int n, int pad, int reflect, int out[3]) {
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
inline float tree_sum(float v, __local float* scratch) {
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
