// gemm.cl: the packed matrix product behind every convolution (implicit GEMM), and the
// packing kernels that lay its operands out. Mirrors the GEMM view in
// Sources/CycleGAN/Backend/OpenCL/OpenCLConv2d.swift; the CPU reference computes the same
// convolutions directly (CPUConv2d.swift).
//
// C[m][n] = sum_r A(m, r) * B(r, n), with both operands packed into panels so that each
// work-item's r loop walks two contiguous streams:
//   A packed as [ceil(M/TM)][R][TM]   (TM consecutive rows m, for each r)
//   B packed as [ceil(N/TN)][R][TN]   (TN consecutive columns n, for each r)
// Each work-item computes one TM x TN tile of C in TM vector accumulators of width TN:
// per r, one vector load of B and TM scalar loads of A, each broadcast into an fma.
// Padding rows/columns of the panels are zero, so no bounds checks in the inner loop.
// TM and TN are compile-time constants (-DTM=16 -DTN=16 on CPUs; smaller on GPUs).

#ifndef TM
#define TM 16
#endif
#ifndef TN
#define TN 16
#endif

#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)
#define VEC CAT(float, TN)
#define VLOAD CAT(vload, TN)
#define VSTORE CAT(vstore, TN)

// Global (ceil(N/TN), ceil(M/TM), batches * splits), any local size. Dimension 2 holds
// independent products (batch = z / splits, each operand `*_batch` floats after the last;
// the 16 products of a Winograd convolution) and, within each, a split of the r range into
// `splits` chunks of r_chunk (split = z % splits), each writing its own partial C at
// C + split*M*ldc (reduced afterwards by reduce_partials in a fixed order).
// has_bias adds bias[m] (only with one split).
__kernel void gemm_packed(__global const float* A, int a_batch, __global const float* B, int b_off, int b_batch,
                          __global float* C, int c_off, int c_batch, int M, int N, int R, int ldc,
                          int r_chunk, int splits, __global const float* bias, int has_bias) {
    int nb = get_global_id(0), mb = get_global_id(1), z = get_global_id(2);
    int split = z % splits, batch = z / splits;
    if (nb * TN >= N || mb * TM >= M) return;
    int r0 = split * r_chunk, r1 = min(R, r0 + r_chunk);
    __global const float* a = A + (size_t)batch * a_batch + (size_t)mb * R * TM;
    __global const float* b = B + b_off + (size_t)batch * b_batch + (size_t)nb * R * TN;
    VEC acc[TM];
    #pragma unroll
    for (int i = 0; i < TM; i++) acc[i] = (VEC)(0.0f);
    for (int r = r0; r < r1; r++) {
        VEC bv = VLOAD(0, b + (size_t)r * TN);
        __global const float* ar = a + (size_t)r * TM;
        #pragma unroll
        for (int i = 0; i < TM; i++) acc[i] = fma((VEC)(ar[i]), bv, acc[i]);
    }
    __global float* c = C + c_off + (size_t)batch * c_batch + (size_t)split * M * ldc;
    int n0 = nb * TN;
    #pragma unroll
    for (int i = 0; i < TM; i++) {
        int m = mb * TM + i;
        if (m >= M) break;
        VEC v = acc[i];
        if (has_bias) v += (VEC)(bias[m]);
        __global float* row = c + (size_t)m * ldc + n0;
        if (n0 + TN <= N) {
            VSTORE(v, 0, row);
        } else {
            float tmp[TN];
            VSTORE(v, 0, tmp);
            for (int j = 0; j < N - n0; j++) row[j] = tmp[j];
        }
    }
}

// gemm_tiled: the same product over the same panels, shaped for GPUs (version 2 of the
// GEMM; gemm_packed above is version 1, the CPU shape). A work-group of WGN x WGM
// work-items computes a (WGM*TM) x (WGN*TN) tile of C -- 64 x 128 with the GPU's 4 x 8 panels
// and 16 x 16 work-items -- and walks r in slices of KS. Each slice of A (KS rows of WGM
// panels) and of B is staged in local memory by all work-items together; a panel's KS
// rows are KS*TM consecutive floats in global memory, so consecutive work-items load
// consecutive addresses (coalesced). Each work-item then accumulates the TM x TN tile of
// its own A panel (local y) and B panel (local x) from local memory. Per slice: KS*(64 + 128)
// floats loaded from global memory for 64*128*KS multiply-adds (43 per float loaded, where
// version 1 does TM*TN/(TM+TN) = 2.7 with 4 x 8 tiles).
//
// Same arguments, global grid and z = (batch, split) decomposition as gemm_packed; the
// local size must be (WGN, WGM, 1). Work-items past M or N load zeros and store nothing,
// but take part in every barrier. Rows of the local tiles are padded by TM (TN) floats so
// that the stores of a slice (a stride of one row per 4 work-items) fall in distinct banks;
// the tiles are double-buffered (common.cl).

__kernel __attribute__((reqd_work_group_size(WGN, WGM, 1)))
void gemm_tiled(__global const float* A, int a_batch, __global const float* B, int b_off, int b_batch,
                __global float* C, int c_off, int c_batch, int M, int N, int R, int ldc,
                int r_chunk, int splits, __global const float* bias, int has_bias) {
    __local float As[2 * TILE_A_SIZE];
    __local float Bs[2 * TILE_B_SIZE];
    int tx = get_local_id(0), ty = get_local_id(1), z = get_global_id(2);
    int nb0 = get_group_id(0) * WGN, mb0 = get_group_id(1) * WGM;  // first panel of the tile
    int split = z % splits, batch = z / splits;
    int mPanels = (M + TM - 1) / TM, nPanels = (N + TN - 1) / TN;
    int r0 = split * r_chunk, r1 = min(R, r0 + r_chunk);
    __global const float* a = A + (size_t)batch * a_batch;
    __global const float* b = B + b_off + (size_t)batch * b_batch;
    int lid = ty * WGN + tx;
    float ra[TILE_A_PER], rb[TILE_B_PER];

    TILE_ZERO(acc);

    // Element f of A's slice starting at rs is panel f / (KS*TM), row (f / TM) % KS, lane
    // f % TM, at a + ((mb0 + panel) * R + rs + row) * TM + lane; B's likewise. Work-item lid
    // loads elements lid, lid + TILE_THREADS, ... into ra and rb.
    #define GEMM_LOAD(rs)                                                                           \
        for (int e = 0; e < TILE_A_PER; e++) {                                                      \
            int f = lid + e * TILE_THREADS, panel = f / (KS * TM), row = (f / TM) % KS, lane = f % TM; \
            int p = mb0 + panel, r = (rs) + row;                                                    \
            ra[e] = (f < WGM * KS * TM && p < mPanels && r < r1) ? a[((size_t)p * R + r) * TM + lane] : 0.0f; \
        }                                                                                           \
        for (int e = 0; e < TILE_B_PER; e++) {                                                      \
            int f = lid + e * TILE_THREADS, panel = f / (KS * TN), row = (f / TN) % KS, lane = f % TN; \
            int p = nb0 + panel, r = (rs) + row;                                                    \
            rb[e] = (f < WGN * KS * TN && p < nPanels && r < r1) ? b[((size_t)p * R + r) * TN + lane] : 0.0f; \
        }
    #define GEMM_STORE(buf)                                                                         \
        for (int e = 0; e < TILE_A_PER; e++) {                                                      \
            int f = lid + e * TILE_THREADS, panel = f / (KS * TM), row = (f / TM) % KS, lane = f % TM; \
            if (f < WGM * KS * TM) As[(buf) * TILE_A_SIZE + row * TILE_LDA + panel * TM + lane] = ra[e]; \
        }                                                                                           \
        for (int e = 0; e < TILE_B_PER; e++) {                                                      \
            int f = lid + e * TILE_THREADS, panel = f / (KS * TN), row = (f / TN) % KS, lane = f % TN; \
            if (f < WGN * KS * TN) Bs[(buf) * TILE_B_SIZE + row * TILE_LDB + panel * TN + lane] = rb[e]; \
        }

    TILE_DOUBLE_BUFFERED(r0, r1, GEMM_LOAD, GEMM_STORE, As, Bs, ty, tx, acc)
    #undef GEMM_LOAD
    #undef GEMM_STORE

    int mb = mb0 + ty, nb = nb0 + tx;
    if (mb >= mPanels || nb >= nPanels) return;  // after the last barrier
    __global float* c = C + c_off + (size_t)batch * c_batch + (size_t)split * M * ldc;
    for (int i = 0; i < TM; i++) {
        int m = mb * TM + i;
        if (m >= M) break;
        for (int j = 0; j < TN; j++) {
            int n = nb * TN + j;
            // the bias added only where there is one, as gemm_packed does (-0 + 0 is +0)
            if (n < N) c[(size_t)m * ldc + n] = has_bias ? acc[i][j] + bias[m] : acc[i][j];
        }
    }
}

// out[i] (+)= sum over s of partial[s * count + i], s in order: the split-r reduction.
__kernel void reduce_partials(__global const float* partial, int splits, int count,
                              __global float* out, int out_off, int accumulate) {
    int i = get_global_id(0);
    if (i >= count) return;
    float s = 0.0f;
    for (int k = 0; k < splits; k++) s += partial[(size_t)k * count + i];
    out[out_off + i] = accumulate ? out[out_off + i] + s : s;
}

// The packers pack a GEMM operand: a convolution's weight, rounded as the precision asks
// (ROUND_W, common.cl).
// Panels over the rows of a row-major [P][R] matrix: dst[pb][r][i] = src[(pb*T + i)*R + r].
// Global (T, R, ceil(P/T)).
__kernel void pack_rows(__global const float* src, int src_off, __global float* dst,
                        int P, int R, int T) {
    int i = get_global_id(0), r = get_global_id(1), pb = get_global_id(2);
    if (i >= T || r >= R) return;
    int p = pb * T + i;
    dst[((size_t)pb * R + r) * T + i] = p < P ? ROUND_W(src[src_off + (size_t)p * R + r]) : 0.0f;
}

// Panels over the columns of a row-major [R][P] matrix: dst[pb][r][i] = src[r*P + pb*T + i].
// Global (T, R, ceil(P/T)).
__kernel void pack_cols(__global const float* src, int src_off, __global float* dst,
                        int P, int R, int T) {
    int i = get_global_id(0), r = get_global_id(1), pb = get_global_id(2);
    if (i >= T || r >= R) return;
    int p = pb * T + i;
    dst[((size_t)pb * R + r) * T + i] = p < P ? ROUND_W(src[src_off + (size_t)r * P + p]) : 0.0f;
}
