// conv2d.cl: 2-D convolution, forward and backward, NCHW. Activations (x, y, gy, gx) are
// act_t (common.cl: FP16 storage in the programs of --precision mixed); the kernels that read
// an operand round it as the precision asks (ROUND_X, ROUND_W); weights, their gradients,
// biases and all scratch (padded planes, packed panels) are float.
// - The direct kernels conv2d_forward, conv2d_backward_data and conv2d_backward_weight
//   (CYCLEGAN_CONV=direct), channel_sum and add_channel_bias compute what the CPU reference
//   methods conv2dForward, conv2dBackwardData, conv2dBackwardWeight, channelSum and
//   addChannelBias compute (Sources/CycleGAN/Backend/CPU/CPUConv2d.swift).
// - The rest (padding into phase planes, the stride-1 implicit GEMMs that read them, the
//   input gradient's folding, packing) are parts of the default GEMM paths that
//   Sources/CycleGAN/Backend/OpenCL/OpenCLConv2d.swift runs with gemm.cl; they have no CPU
//   twin of their own, CPUConv2d.swift being the reference of the whole convolution
//   (Kernels/README.md lists the kernels of each path).
//
// Geometry (all kernels): input x[N][C][H][W], weight w[K][C][KH][KW],
// output y[N][K][OH][OW], OH = (H + 2*pad - KH)/stride + 1.
// reflect != 0 pads by mirroring (PyTorch ReflectionPad2d, edge not repeated). The direct
// kernels fold the padding into their index arithmetic; the GEMM paths read a padded copy
// of the input (pad_phases_rows, pad_phases), and the input gradient, computed on the padded grid,
// is folded back onto the input by unpad_fold.

// reflect_index and reflect_preimages are in common.cl, prepended to every program.

// One work-item per output element: global (OW, OH, N*K).
__kernel void conv2d_forward(__global const act_t* x, __global const float* w,
                             __global const float* b, int has_bias, __global act_t* y,
                             int N, int C, int H, int W, int K, int OH, int OW,
                             int KH, int KW, int stride, int pad, int reflect) {
    int ox = get_global_id(0), oy = get_global_id(1), nk = get_global_id(2);
    if (ox >= OW || oy >= OH || nk >= N * K) return;
    int n = nk / K, k = nk % K;
    float acc = 0.0f;
    for (int c = 0; c < C; c++) {
        __global const act_t* xp = x + ((size_t)n * C + c) * H * W;
        __global const float* wp = w + ((size_t)k * C + c) * KH * KW;
        for (int ky = 0; ky < KH; ky++) {
            int iy = oy * stride - pad + ky;
            if (reflect) iy = reflect_index(iy, H);
            else if (iy < 0 || iy >= H) continue;
            for (int kx = 0; kx < KW; kx++) {
                int ix = ox * stride - pad + kx;
                if (reflect) ix = reflect_index(ix, W);
                else if (ix < 0 || ix >= W) continue;
                acc += ROUND_X(LD(xp, iy * W + ix)) * ROUND_W(wp[ky * KW + kx]);
            }
        }
    }
    if (has_bias) acc += b[k];
    ST(y, (((size_t)n * K + k) * OH + oy) * OW + ox, acc);
}

// Gradient with respect to the input, gathered per input element: global (W, H, N*C).
// A padded coordinate p = o*stride + t (t the tap) reads input index p - pad, or its
// mirror: reflect_preimages lists the padded rows (columns) that read row iy (column ix).
// This kernel is also the transposed-convolution forward (zero padding).
__kernel void conv2d_backward_data(__global const act_t* gy, __global const float* w,
                                   __global act_t* gx,
                                   int N, int C, int H, int W, int K, int OH, int OW,
                                   int KH, int KW, int stride, int pad, int reflect) {
    int ix = get_global_id(0), iy = get_global_id(1), nc = get_global_id(2);
    if (ix >= W || iy >= H || nc >= N * C) return;
    int n = nc / C, c = nc % C;
    int rows[3], cols[3];
    int nr = reflect_preimages(iy, H, pad, reflect, rows);
    int ncol = reflect_preimages(ix, W, pad, reflect, cols);
    float acc = 0.0f;
    for (int k = 0; k < K; k++) {
        __global const act_t* gp = gy + ((size_t)n * K + k) * OH * OW;
        __global const float* wp = w + ((size_t)k * C + c) * KH * KW;
        for (int r = 0; r < nr; r++) {
            for (int ky = 0; ky < KH; ky++) {
                int t = rows[r] - ky;  // = oy * stride when this tap reaches row rows[r]
                if (t < 0 || t % stride != 0) continue;
                int oy = t / stride;
                if (oy >= OH) continue;
                for (int q = 0; q < ncol; q++) {
                    for (int kx = 0; kx < KW; kx++) {
                        int s = cols[q] - kx;
                        if (s < 0 || s % stride != 0) continue;
                        int ox = s / stride;
                        if (ox >= OW) continue;
                        acc += ROUND_X(LD(gp, oy * OW + ox)) * ROUND_W(wp[ky * KW + kx]);
                    }
                }
            }
        }
    }
    ST(gx, (((size_t)n * C + c) * H + iy) * W + ix, acc);
}

// Gradient with respect to the weight: global (KW*KH, C, K), one work-item per weight,
// summing over batch and output positions in a fixed order (deterministic).
__kernel void conv2d_backward_weight(__global const act_t* x, __global const act_t* gy,
                                     __global float* gw,
                                     int N, int C, int H, int W, int K, int OH, int OW,
                                     int KH, int KW, int stride, int pad, int reflect) {
    int kk = get_global_id(0), c = get_global_id(1), k = get_global_id(2);
    if (kk >= KH * KW || c >= C || k >= K) return;
    int ky = kk / KW, kx = kk % KW;
    float acc = 0.0f;
    for (int n = 0; n < N; n++) {
        __global const act_t* xp = x + ((size_t)n * C + c) * H * W;
        __global const act_t* gp = gy + ((size_t)n * K + k) * OH * OW;
        for (int oy = 0; oy < OH; oy++) {
            int iy = oy * stride - pad + ky;
            if (reflect) iy = reflect_index(iy, H);
            else if (iy < 0 || iy >= H) continue;
            float row = 0.0f;
            for (int ox = 0; ox < OW; ox++) {
                int ix = ox * stride - pad + kx;
                if (reflect) ix = reflect_index(ix, W);
                else if (ix < 0 || ix >= W) continue;
                row += ROUND_X(LD(xp, iy * W + ix)) * ROUND_X(LD(gp, oy * OW + ox));
            }
            acc += row;
        }
    }
    gw[(((size_t)k * C + c) * KH + ky) * KW + kx] = acc;
}

// Bias gradient: out[c] = sum over n, h, w of gy[n][c][h][w].
// One work-group per channel (global = C * local); the work-items stride over the
// channel's N*HW elements, then a tree reduction in local memory (local size a power of 2).
__kernel void channel_sum(__global const act_t* gy, __global float* out,
                          int N, int C, int HW, __local float* scratch) {
    int c = get_group_id(0), lid = get_local_id(0), ls = get_local_size(0);
    float acc = 0.0f;
    for (int n = 0; n < N; n++) {
        __global const act_t* p = gy + ((size_t)n * C + c) * HW;
        for (int i = lid; i < HW; i += ls) acc += LD(p, i);
    }
    float total = tree_sum(acc, scratch);
    if (lid == 0) out[c] = total;
}

// y[n][c][i] += b[c]: the bias of a transposed convolution. global (HW, N*C).
__kernel void add_channel_bias(__global act_t* y, __global const float* b, int C, int HW) {
    int i = get_global_id(0), nc = get_global_id(1);
    if (i >= HW) return;
    size_t o = (size_t)nc * HW + i;
    ST(y, o, LD(y, o) + b[nc % C]);
}

// ---- Implicit GEMM over phase planes (see gemm.cl) ---------------------------------------
// The convolution of image n as a matrix product: Y[K][OH*OW] = W[K][C*KH*KW] x X[C*KH*KW][OH*OW],
// where X (im2col) holds at row r = (c*KH + ky)*KW + kx and column q = (oy, ox) the input
// value the conv reads there. X is never stored: every pass reads it in place from a padded
// copy of its input, through a table of row offsets.
//
// Stride 1: the padded input xp[c][py][px] (rows of ldx floats) holds X[r][q] at
// roff[r] + oy*ldx + ox with roff[r] = (c*Hp + ky)*ldx + kx, so TN consecutive q of one row
// r are one vector load.
// Stride s > 1 (polyphase): the padded input is split into s*s phase planes,
// xp[(a*s + b)*C + c][i][j] = xpad[c][s*i + a][s*j + b], and tap (ky, kx) of output (oy, ox)
// reads xpad[c][s*oy + ky][s*ox + kx] = phase (ky%s, kx%s) at (oy + ky/s, ox + kx/s): a
// stride-1 read again, with roff[r] = ((ky%s*s + kx%s)*C + c)*Hq*ldx + (ky/s)*ldx + kx/s.
// The rows keep their order, so the packed weight, the sum's order and the weight
// gradient's layout are those of every other path.
// The input gradient of a strided conv (and so the transposed conv's forward) splits the
// other way: output phase (a, b) of the padded input's gradient is a stride-1 correlation of
// the output gradient with the taps (a + s*u, b + s*v) of the flipped weight
// (pack_flipped_weight), written to its own plane and gathered back by unpad_fold.
// Sources/CycleGAN/Backend/OpenCL/OpenCLConv2d.swift builds the tables.

// TM and TN, the GEMM's panel sizes, come from the build options shared with gemm.cl.
#ifndef TM
#define TM 16
#endif
#ifndef TN
#define TN 16
#endif
#define CONV_CAT_(a, b) a##b
#define CONV_CAT(a, b) CONV_CAT_(a, b)
#define CVEC CONV_CAT(float, TN)
#define CVLOAD CONV_CAT(vload, TN)

// The padded input's value at padded coordinates (py, px) (rows Hp = H + 2*pad_y, columns
// Wp = W + 2*pad_x): reflected, or 0 in the zero padding and past the padded input.
// The value is the operand as the products read it (ROUND_X).
static inline float padded_value(__global const act_t* xc, int H, int W, int pad_y, int pad_x, int reflect, int py, int px) {
    if (py >= H + 2 * pad_y || px >= W + 2 * pad_x) return 0.0f;
    int iy = py - pad_y, ix = px - pad_x;
    if (reflect) { iy = reflect_index(iy, H); ix = reflect_index(ix, W); }
    return (iy >= 0 && iy < H && ix >= 0 && ix < W) ? ROUND_X(LD(xc, iy * W + ix)) : 0.0f;
}

// A band of the padded input starts at padded row row0 (0: the whole input; a convolution
// whose scratch would grow with the image runs in bands of output rows).

#ifdef CPU_SHAPE
// A row per work-item (the CPU shape; stride 1 is one phase): row i of phase plane (a, b) of channel c,
// xp[(a*s + b)*C + c][i][j] = the padded input at (row0 + s*i + a, s*j + b) for j < ldx: the
// interior a strided copy of one input row, the padding columns apart. Global (Hq, s*s*C).
__kernel void pad_phases_rows(__global const act_t* x, int x_off, __global float* xp,
                              int C, int H, int W, int pad_y, int pad_x, int reflect, int stride, int row0, int Hq, int ldx) {
    int i = get_global_id(0), pc = get_global_id(1);
    if (i >= Hq || pc >= stride * stride * C) return;
    int ph = pc / C, c = pc % C, a = ph / stride, b = ph % stride;
    __global float* dst = xp + ((size_t)pc * Hq + i) * ldx;
    int py = row0 + stride * i + a, iy = py - pad_y;
    if (reflect && py < H + 2 * pad_y) iy = reflect_index(iy, H);
    if (iy < 0 || iy >= H) {  // a zero-padding row, or past the padded input
        for (int j = 0; j < ldx; j++) dst[j] = 0.0f;
        return;
    }
    __global const act_t* src = x + x_off + ((size_t)c * H + iy) * W;
    // columns j whose input column s*j + b - pad_x lies in [0, W): j in [j0, j1)
    int j0 = min(ldx, max(0, (pad_x - b + stride - 1) / stride));
    int j1 = max(j0, min(ldx, (W + pad_x - b + stride - 1) / stride));
    for (int j = 0; j < j0; j++) dst[j] = padded_value(src, 1, W, 0, pad_x, reflect, 0, stride * j + b);
    for (int j = j0; j < j1; j++) dst[j] = ROUND_X(LD(src, stride * j + b - pad_x));
    for (int j = j1; j < ldx; j++) dst[j] = padded_value(src, 1, W, 0, pad_x, reflect, 0, stride * j + b);
}
#endif

// Any stride, an element per work-item (the GPU shape):
// xp[(a*s + b)*C + c][i][j] = the padded input at (row0 + s*i + a, s*j + b), for i < Hq,
// j < ldx. Global (ldx, Hq, s*s*C).
__kernel void pad_phases(__global const act_t* x, int x_off, __global float* xp,
                         int C, int H, int W, int pad_y, int pad_x, int reflect, int stride, int row0, int Hq, int ldx) {
    int j = get_global_id(0), i = get_global_id(1), pc = get_global_id(2);
    if (j >= ldx || i >= Hq || pc >= stride * stride * C) return;
    int ph = pc / C, c = pc % C, a = ph / stride, b = ph % stride;
    xp[((size_t)pc * Hq + i) * ldx + j] =
        padded_value(x + x_off + (size_t)c * H * W, H, W, pad_y, pad_x, reflect, row0 + stride * i + a, stride * j + b);
}

// The slack after the last padded plane, read only for dropped positions: zero, so that
// a product with it is 0, never NaN from stale memory. Global (n).
__kernel void zero_tail(__global float* xp, int offset, int n) {
    int i = get_global_id(0);
    if (i < n) xp[offset + i] = 0.0f;
}

// y[m][oy][ox] = sum over r of A(m, r) * xp[xp_off + roff[r] + oy*ldx + ox] (+ bias[m]), output
// rows ld_out apart and planes ld_plane apart; A packed as in gemm.cl: [ceil(M/TM)][Rows][TM]. With q = oy*ldx + ox, TN
// consecutive q are one vector load. One work-item computes TM output channels x TN
// consecutive q starting at q0 = row*row_stride + tile*TN:
// - row_stride = ldx: tiles within output rows (ldx holds the row's tiles plus the taps'
//   slack);
// - row_stride = 0, one row: tiles over the flattened grid, across row ends (ldx = OW plus
//   the taps' slack; the positions past OW in each row are computed and dropped), which
//   wastes less when OW is not a multiple of TN. The input then needs TN floats of slack
//   past its last plane.
// Global (tiles, rows, ceil(M/TM)).
__kernel void conv2d_s1(__global const float* A, __global const float* xp, int xp_off, __global const int* roff,
                        __global act_t* y, int y_off, int M, int Rows, int OH, int OW, int ldx,
                        __global const float* bias, int has_bias, int ld_out, int ld_plane, int row_stride) {
    int tile = get_global_id(0), rowi = get_global_id(1), mb = get_global_id(2);
    int q0 = rowi * row_stride + tile * TN;
    if (q0 >= OH * ldx || mb * TM >= M) return;
    __global const float* a = A + (size_t)mb * Rows * TM;
    CVEC acc[TM];
    #pragma unroll
    for (int i = 0; i < TM; i++) acc[i] = (CVEC)(0.0f);
    for (int r = 0; r < Rows; r++) {
        CVEC bv = CVLOAD(0, xp + xp_off + roff[r] + q0);
        #pragma unroll
        for (int i = 0; i < TM; i++) acc[i] = fma((CVEC)(a[i]), bv, acc[i]);
        a += TM;
    }
    int oy0 = q0 / ldx, ox0 = q0 % ldx;
    #pragma unroll
    for (int i = 0; i < TM; i++) {
        int m = mb * TM + i;
        if (m >= M) break;
        CVEC v = acc[i];
        if (has_bias) v += (CVEC)(bias[m]);
        float tmp[TN];
        CONV_CAT(vstore, TN)(v, 0, tmp);
        __global act_t* out = y + y_off + (size_t)m * ld_plane;
        int oy = oy0, ox = ox0;
        for (int j = 0; j < TN; j++) {
            if (oy < OH && ox < OW) ST(out, oy * ld_out + ox, tmp[j]);
            if (++ox == ldx) { ox = 0; oy++; }
        }
    }
}

// conv2d_s1_tiled: conv2d_s1 on the flattened grid (row_stride 0), shaped for GPUs as
// gemm_tiled is (gemm.cl): a work-group of WGN x WGM work-items computes WGM*TM output
// channels x WGN*TN consecutive grid positions q, staging slices of KS rows r of A and of
// the implicit B in local memory. B(r, q) = xp[roff[r] + q], so a slice row is WGN*TN
// consecutive floats of xp: coalesced. The terms of each output are summed in conv2d_s1's
// order (the same bits). Positions past the grid load zeros and are not stored. Global
// (ceil(OH*ldx/TN), ceil(M/TM), 1), local (WGN, WGM, 1); WGM, WGN, KS and the tiles' row
// lengths are common.cl's.
__kernel __attribute__((reqd_work_group_size(WGN, WGM, 1)))
void conv2d_s1_tiled(__global const float* A, __global const float* xp, int xp_off, __global const int* roff,
                     __global act_t* y, int y_off, int M, int Rows, int OH, int OW, int ldx,
                     __global const float* bias, int has_bias, int ld_out, int ld_plane) {
    __local float As[2 * TILE_A_SIZE];
    __local float Bs[2 * TILE_B_SIZE];
    int tx = get_local_id(0), ty = get_local_id(1), lid = ty * WGN + tx;
    int mb0 = get_group_id(1) * WGM, q0 = get_group_id(0) * WGN * TN;
    int Q = OH * ldx, mPanels = (M + TM - 1) / TM;
    float ra[TILE_A_PER], rb[TILE_B_PER];

    TILE_ZERO(acc);

    // Double-buffered as gemm_tiled (common.cl). A: as gemm_tiled; B: slice row f / (WGN*TN),
    // consecutive q.
    #define CONV_LOAD(rs)                                                                           \
        for (int e = 0; e < TILE_A_PER; e++) {                                                      \
            int f = lid + e * TILE_THREADS, panel = f / (KS * TM), row = (f / TM) % KS, lane = f % TM; \
            int p = mb0 + panel, r = (rs) + row;                                                    \
            ra[e] = (f < WGM * KS * TM && p < mPanels && r < Rows) ? A[((size_t)p * Rows + r) * TM + lane] : 0.0f; \
        }                                                                                           \
        for (int e = 0; e < TILE_B_PER; e++) {                                                      \
            int f = lid + e * TILE_THREADS, r = (rs) + f / (WGN * TN), q = q0 + f % (WGN * TN);    \
            rb[e] = (f < KS * WGN * TN && r < Rows && q < Q) ? (xp + xp_off + roff[r])[q] : 0.0f; \
        }
    #define CONV_STORE(buf)                                                                         \
        for (int e = 0; e < TILE_A_PER; e++) {                                                      \
            int f = lid + e * TILE_THREADS, panel = f / (KS * TM), row = (f / TM) % KS, lane = f % TM; \
            if (f < WGM * KS * TM) As[(buf) * TILE_A_SIZE + row * TILE_LDA + panel * TM + lane] = ra[e]; \
        }                                                                                           \
        for (int e = 0; e < TILE_B_PER; e++) {                                                      \
            int f = lid + e * TILE_THREADS;                                                         \
            if (f < KS * WGN * TN) Bs[(buf) * TILE_B_SIZE + f / (WGN * TN) * TILE_LDB + f % (WGN * TN)] = rb[e]; \
        }

    TILE_DOUBLE_BUFFERED(0, Rows, CONV_LOAD, CONV_STORE, As, Bs, ty, tx, acc)
    #undef CONV_LOAD
    #undef CONV_STORE

    // Unrolled, with guards instead of breaks, so that acc stays in registers (indexed by
    // constants only; a loop left rolled puts it on the stack).
    #pragma unroll
    for (int j = 0; j < TN; j++) {
        int q = q0 + tx * TN + j, oy = q / ldx, ox = q % ldx;
        if (oy >= OH || ox >= OW) continue;
        #pragma unroll
        for (int i = 0; i < TM; i++) {
            int m = (mb0 + ty) * TM + i;
            if (m < M) ST(y, y_off + (size_t)m * ld_plane + oy * ld_out + ox, has_bias ? acc[i][j] + bias[m] : acc[i][j]);
        }
    }
}

// The A operand of output phase (a, b) of the input gradient: panels over input channels c
// of the flipped, transposed taps of that phase, A[c/TM][(k*KU + u)*KV + v][c%TM] =
// w[k][c][a + s*(KU-1-u)][b + s*(KV-1-v)], KU = ceil((KH - a)/s), KV = ceil((KW - b)/s)
// (stride 1: the whole weight flipped). One work-item per (c, k); global (TM*ceil(C/TM), K).
__kernel void pack_flipped_weight(__global const float* w, __global float* dst, int K, int C, int KH, int KW,
                                  int stride, int a, int b) {
    int c = get_global_id(0), k = get_global_id(1);
    int ku = (KH - a + stride - 1) / stride, kv = (KW - b + stride - 1) / stride, taps = ku * kv;
    if (k >= K || c >= (C + TM - 1) / TM * TM) return;
    __global float* out = dst + ((size_t)(c / TM) * K * taps + k * taps) * TM + c % TM;
    __global const float* src = w + ((size_t)k * C + c) * KH * KW;
    for (int u = 0; u < ku; u++)
        for (int v = 0; v < kv; v++)
            out[(u * kv + v) * TM] = c < C ? ROUND_W(src[(a + stride * (ku - 1 - u)) * KW + b + stride * (kv - 1 - v)]) : 0.0f;
}

// gx[c][iy][ix] = the sum of the padded input's gradient over every padded position (py, px)
// that reads (iy, ix): py = iy + pad always, and with reflect also the mirrored rows
// (reflect_preimages). The gradient at (py, px) is in phase plane (py%s, px%s) at
// (py/s, px/s): gxq[((py%s)*s + px%s)*C + c][py/s][px/s], planes of Hq rows of ldq floats
// (stride 1: one plane per channel, the padded grid itself).

#ifdef CPU_SHAPE
// A row per work-item (the CPU shape). Global (H, C). Zero padding has one preimage per
// element: its row of phase planes is read with a stride-s store per column phase, no
// division per element. With zero padding the planes may hold a band of phase rows from
// prow0 on, folded into input rows iy0 ..< iy0 + nrows; with reflect
// they hold every row (iy0 = prow0 = 0).
__kernel void unpad_fold(__global const float* gxq, __global act_t* gx, int gx_off,
                         int C, int H, int W, int pad, int reflect, int stride, int Hq, int ldq, int iy0, int prow0, int nrows) {
    int iy = iy0 + get_global_id(0), c = get_global_id(1);
    if (iy >= H || iy - iy0 >= nrows || c >= C) return;
    __global act_t* out = gx + gx_off + ((size_t)c * H + iy) * W;
    if (!reflect) {
        int py = iy + pad, a = py % stride;
        for (int b = 0; b < stride; b++) {
            // columns ix with (ix + pad) % stride == b read plane (a, b) at j = (ix + pad) / stride
            __global const float* src = gxq + (((size_t)(a * stride + b) * C + c) * Hq + py / stride - prow0) * ldq;
            int ix = ((b - pad) % stride + stride) % stride;
            for (int j = (ix + pad) / stride; ix < W; ix += stride, j++) ST(out, ix, src[j]);
        }
        return;
    }
    int rows[3], cols[3];
    int nr = reflect_preimages(iy, H, pad, reflect, rows);
    if (stride == 1) {  // one plane per channel: no phase arithmetic
        __global const float* plane = gxq + (size_t)c * Hq * ldq;
        for (int ix = 0; ix < W; ix++) {
            int ncol = reflect_preimages(ix, W, pad, reflect, cols);
            float acc = 0.0f;
            for (int a = 0; a < nr; a++)
                for (int b = 0; b < ncol; b++) acc += plane[(rows[a] - prow0) * ldq + cols[b]];
            ST(out, ix, acc);
        }
        return;
    }
    for (int ix = 0; ix < W; ix++) {
        int ncol = reflect_preimages(ix, W, pad, reflect, cols);
        float acc = 0.0f;
        for (int a = 0; a < nr; a++)
            for (int b = 0; b < ncol; b++) {
                int ph = (rows[a] % stride) * stride + cols[b] % stride;
                acc += gxq[(((size_t)ph * C + c) * Hq + rows[a] / stride - prow0) * ldq + cols[b] / stride];
            }
        ST(out, ix, acc);
    }
}
#endif

// An element per work-item (the GPU shape; the same preimages, the same order of the sum,
// the same bands). Global (W, rows, C).
__kernel void unpad_fold_elem(__global const float* gxq, __global act_t* gx, int gx_off,
                              int C, int H, int W, int pad, int reflect, int stride, int Hq, int ldq, int iy0, int prow0, int nrows) {
    int ix = get_global_id(0), iy = iy0 + get_global_id(1), c = get_global_id(2);
    if (ix >= W || iy >= H || iy - iy0 >= nrows || c >= C) return;
    int rows[3], cols[3];
    int nr = reflect_preimages(iy, H, pad, reflect, rows), ncol = reflect_preimages(ix, W, pad, reflect, cols);
    float acc = 0.0f;
    for (int a = 0; a < nr; a++)
        for (int b = 0; b < ncol; b++) {
            int ph = (rows[a] % stride) * stride + cols[b] % stride;
            acc += gxq[(((size_t)ph * C + c) * Hq + rows[a] / stride - prow0) * ldq + cols[b] / stride];
        }
    ST(gx, gx_off + ((size_t)c * H + iy) * W + ix, acc);
}

// ---- Weight gradient ----------------------------------------------------------------------
// gW[m][r] = sum over q of gY[m][q] * X[r][q], with X[r][q] = xp[roff[r] + q] on the flattened
// grid (rows ldx = OW + the taps' slack apart; the forward's phase planes and table). Each
// work-item takes TM rows r (their offsets read once) and TN output channels m: per q, one
// vector load of gY (packed over m, zero at the dropped positions ox >= OW) and TM scalar
// loads of xp at the TM offsets, each broadcast into an fma. Partial sums per split of q go
// to partial[split][m][r], gw's own layout, so reduce_partials (gemm.cl) adds them into gw in
// a fixed order with contiguous reads; with one split the kernel writes (accumulate: adds)
// into gw itself.

#ifdef CPU_SHAPE
// dst[mb][q][j] = gy[mb*TN + j][oy][ox] for q = oy*ldx + ox (0 where ox >= OW or m >= M).
// One work-item per (output row, m-panel) writes that row's TN-wide chunks in order.
// Global (OH, ceil(M/TN)).
__kernel void pack_flat_cols(__global const act_t* gy, int gy_off, __global float* dst,
                             int M, int OH, int OW, int ldx) {
    int oy = get_global_id(0), mb = get_global_id(1);
    if (oy >= OH || mb * TN >= M) return;
    __global float* out = dst + ((size_t)mb * OH * ldx + (size_t)oy * ldx) * TN;
    for (int ox = 0; ox < ldx; ox++) {
        for (int j = 0; j < TN; j++) {
            int m = mb * TN + j;
            out[ox * TN + j] = (m < M && ox < OW) ? ROUND_X(LD(gy, gy_off + ((size_t)m * OH + oy) * OW + ox)) : 0.0f;
        }
    }
}
#endif

// Global (ceil(Rows/TM), ceil(M/TN), splits).
__kernel void conv2d_s1_wgrad(__global const float* xp, __global const int* roff, __global const float* gyp,
                              __global float* partial, int Rows, int M, int Q, int q_chunk, int accumulate) {
    int rb = get_global_id(0), mb = get_global_id(1), split = get_global_id(2);
    if (rb * TM >= Rows || mb * TN >= M) return;
    int off[TM];
    for (int i = 0; i < TM; i++) off[i] = roff[min(rb * TM + i, Rows - 1)];  // rows past the end repeat the last; not written
    int q0 = split * q_chunk, q1 = min(Q, q0 + q_chunk);
    __global const float* b = gyp + (size_t)mb * Q * TN;
    CVEC acc[TM];
    #pragma unroll
    for (int i = 0; i < TM; i++) acc[i] = (CVEC)(0.0f);
    for (int q = q0; q < q1; q++) {
        CVEC bv = CVLOAD(0, b + (size_t)q * TN);
        #pragma unroll
        for (int i = 0; i < TM; i++) acc[i] = fma((CVEC)((xp + off[i])[q]), bv, acc[i]);
    }
    __global float* out = partial + (size_t)split * Rows * M;
    int m0 = mb * TN;
    #pragma unroll
    for (int i = 0; i < TM; i++) {
        int r = rb * TM + i;
        if (r >= Rows) break;
        float tmp[TN];
        CONV_CAT(vstore, TN)(acc[i], 0, tmp);
        for (int j = 0; j < TN && m0 + j < M; j++) {
            size_t o = (size_t)(m0 + j) * Rows + r;
            out[o] = accumulate ? out[o] + tmp[j] : tmp[j];
        }
    }
}

// conv2d_s1_wgrad_tiled: conv2d_s1_wgrad in GEMM version 2's local-memory tiles (see
// conv2d_s1_tiled). A work-group of WGN x WGM work-items computes WGM*TM weight rows r x
// WGN*TN output channels m over its split's positions q in slices of KS: the slice of the
// implicit A(r, q) = xp[roff[r] + q] is loaded KS consecutive floats per row, the slice of
// gyp's panels as gemm_tiled loads B. The terms are summed in conv2d_s1_wgrad's order (q
// ascending: the same bits); outputs and the accumulate flag as there. Global
// (ceil(M/TN), ceil(Rows/TM), splits), local (WGN, WGM, 1).
__kernel __attribute__((reqd_work_group_size(WGN, WGM, 1)))
void conv2d_s1_wgrad_tiled(__global const float* xp, __global const int* roff, __global const float* gyp,
                           __global float* partial, int Rows, int M, int Q, int q_chunk, int accumulate) {
    __local float As[2 * TILE_A_SIZE];
    __local float Bs[2 * TILE_B_SIZE];
    int tx = get_local_id(0), ty = get_local_id(1), lid = ty * WGN + tx, split = get_global_id(2);
    int nb0 = get_group_id(0) * WGN, rb0 = get_group_id(1) * WGM;
    int nPanels = (M + TN - 1) / TN;
    int q0 = split * q_chunk, q1 = min(Q, q0 + q_chunk);
    float ra[TILE_A_PER], rb[TILE_B_PER];

    TILE_ZERO(acc);

    // Double-buffered as gemm_tiled (common.cl). A: KS consecutive q of each row r; B: gyp's
    // panels as gemm_tiled loads B.
    #define WGRAD_LOAD(qs)                                                                          \
        for (int e = 0; e < TILE_A_PER; e++) {                                                      \
            int f = lid + e * TILE_THREADS, r = rb0 * TM + f / KS, q = (qs) + f % KS;              \
            ra[e] = (f < WGM * TM * KS && r < Rows && q < q1) ? (xp + roff[r])[q] : 0.0f;          \
        }                                                                                           \
        for (int e = 0; e < TILE_B_PER; e++) {                                                      \
            int f = lid + e * TILE_THREADS, panel = f / (KS * TN), kq = (f / TN) % KS, lane = f % TN; \
            int p = nb0 + panel, q = (qs) + kq;                                                     \
            rb[e] = (f < WGN * KS * TN && p < nPanels && q < q1) ? gyp[((size_t)p * Q + q) * TN + lane] : 0.0f; \
        }
    #define WGRAD_STORE(buf)                                                                        \
        for (int e = 0; e < TILE_A_PER; e++) {                                                      \
            int f = lid + e * TILE_THREADS;                                                         \
            if (f < WGM * TM * KS) As[(buf) * TILE_A_SIZE + f % KS * TILE_LDA + f / KS] = ra[e];   \
        }                                                                                           \
        for (int e = 0; e < TILE_B_PER; e++) {                                                      \
            int f = lid + e * TILE_THREADS, panel = f / (KS * TN), kq = (f / TN) % KS, lane = f % TN; \
            if (f < WGN * KS * TN) Bs[(buf) * TILE_B_SIZE + kq * TILE_LDB + panel * TN + lane] = rb[e]; \
        }

    TILE_DOUBLE_BUFFERED(q0, q1, WGRAD_LOAD, WGRAD_STORE, As, Bs, ty, tx, acc)
    #undef WGRAD_LOAD
    #undef WGRAD_STORE

    // Unrolled, with guards instead of breaks, so that acc stays in registers.
    __global float* out = partial + (size_t)split * Rows * M;
    #pragma unroll
    for (int i = 0; i < TM; i++) {
        int r = (rb0 + ty) * TM + i;
        #pragma unroll
        for (int j = 0; j < TN; j++) {
            int m = (nb0 + tx) * TN + j;
            if (r < Rows && m < M) {
                size_t o = (size_t)m * Rows + r;
                out[o] = accumulate ? out[o] + acc[i][j] : acc[i][j];
            }
        }
    }
}

// pack_flat_cols's dst[mb][q][j], one element per work-item (the GPU shape).
// Global (ldx*TN, OH, ceil(M/TN)).
__kernel void pack_flat_cols_elem(__global const act_t* gy, int gy_off, __global float* dst,
                                  int M, int OH, int OW, int ldx) {
    int e = get_global_id(0), oy = get_global_id(1), mb = get_global_id(2);
    if (e >= ldx * TN || oy >= OH || mb * TN >= M) return;
    int ox = e / TN, j = e % TN, m = mb * TN + j;
    dst[((size_t)mb * OH * ldx + (size_t)oy * ldx) * TN + e] =
        (m < M && ox < OW) ? ROUND_X(LD(gy, gy_off + ((size_t)m * OH + oy) * OW + ox)) : 0.0f;
}
