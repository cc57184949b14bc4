// conv2d.cl: 2-D convolution, forward and backward, NCHW, fp32.
// - The direct kernels conv2d_forward, conv2d_backward_data and conv2d_backward_weight
//   (CYCLEGAN_CONV=direct), channel_sum and add_channel_bias compute what the CPU reference
//   methods conv2dForward, conv2dBackwardData, conv2dBackwardWeight, channelSum and
//   addChannelBias compute (Sources/CycleGAN/Backend/CPU/CPUConv2d.swift).
// - The rest (im2col and col2im panels, stride-1 padding, folding and packing) are parts of
//   the default GEMM paths that Sources/CycleGAN/Backend/OpenCL/OpenCLConv2d.swift runs with
//   gemm.cl; they have no CPU twin of their own, CPUConv2d.swift being the reference of
//   the whole convolution (Kernels/README.md lists the kernels of each path).
//
// Geometry (all kernels): input x[N][C][H][W], weight w[K][C][KH][KW],
// output y[N][K][OH][OW], OH = (H + 2*pad - KH)/stride + 1.
// reflect != 0 pads by mirroring (PyTorch ReflectionPad2d, edge not repeated). The direct
// kernels, im2col_pack_cols, im2col_pack_rows and col2im fold the padding into their index
// arithmetic; the stride-1 kernels read a padded copy of the input written by pad_input,
// and the stride-1 input gradient, computed on the padded grid, is folded back by unpad_fold.

// reflect_index and reflect_preimages are in common.cl, prepended to every program.

// One work-item per output element: global (OW, OH, N*K).
__kernel void conv2d_forward(__global const float* x, __global const float* w,
                             __global const float* b, int has_bias, __global float* y,
                             int N, int C, int H, int W, int K, int OH, int OW,
                             int KH, int KW, int stride, int pad, int reflect) {
    int ox = get_global_id(0), oy = get_global_id(1), nk = get_global_id(2);
    if (ox >= OW || oy >= OH || nk >= N * K) return;
    int n = nk / K, k = nk % K;
    float acc = 0.0f;
    for (int c = 0; c < C; c++) {
        __global const float* xp = x + ((size_t)n * C + c) * H * W;
        __global const float* wp = w + ((size_t)k * C + c) * KH * KW;
        for (int ky = 0; ky < KH; ky++) {
            int iy = oy * stride - pad + ky;
            if (reflect) iy = reflect_index(iy, H);
            else if (iy < 0 || iy >= H) continue;
            for (int kx = 0; kx < KW; kx++) {
                int ix = ox * stride - pad + kx;
                if (reflect) ix = reflect_index(ix, W);
                else if (ix < 0 || ix >= W) continue;
                acc += xp[iy * W + ix] * wp[ky * KW + kx];
            }
        }
    }
    if (has_bias) acc += b[k];
    y[(((size_t)n * K + k) * OH + oy) * OW + ox] = acc;
}

// Gradient with respect to the input, gathered per input element: global (W, H, N*C).
// A padded coordinate p = o*stride + t (t the tap) reads input index p - pad, or its
// mirror: reflect_preimages lists the padded rows (columns) that read row iy (column ix).
// This kernel is also the transposed-convolution forward (zero padding).
__kernel void conv2d_backward_data(__global const float* gy, __global const float* w,
                                   __global float* gx,
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
        __global const float* gp = gy + ((size_t)n * K + k) * OH * OW;
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
                        acc += gp[oy * OW + ox] * wp[ky * KW + kx];
                    }
                }
            }
        }
    }
    gx[(((size_t)n * C + c) * H + iy) * W + ix] = acc;
}

// Gradient with respect to the weight: global (KW*KH, C, K), one work-item per weight,
// summing over batch and output positions in a fixed order (deterministic).
__kernel void conv2d_backward_weight(__global const float* x, __global const float* gy,
                                     __global float* gw,
                                     int N, int C, int H, int W, int K, int OH, int OW,
                                     int KH, int KW, int stride, int pad, int reflect) {
    int kk = get_global_id(0), c = get_global_id(1), k = get_global_id(2);
    if (kk >= KH * KW || c >= C || k >= K) return;
    int ky = kk / KW, kx = kk % KW;
    float acc = 0.0f;
    for (int n = 0; n < N; n++) {
        __global const float* xp = x + ((size_t)n * C + c) * H * W;
        __global const float* gp = gy + ((size_t)n * K + k) * OH * OW;
        for (int oy = 0; oy < OH; oy++) {
            int iy = oy * stride - pad + ky;
            if (reflect) iy = reflect_index(iy, H);
            else if (iy < 0 || iy >= H) continue;
            float row = 0.0f;
            for (int ox = 0; ox < OW; ox++) {
                int ix = ox * stride - pad + kx;
                if (reflect) ix = reflect_index(ix, W);
                else if (ix < 0 || ix >= W) continue;
                row += xp[iy * W + ix] * gp[oy * OW + ox];
            }
            acc += row;
        }
    }
    gw[(((size_t)k * C + c) * KH + ky) * KW + kx] = acc;
}

// Bias gradient: out[c] = sum over n, h, w of gy[n][c][h][w].
// One work-group per channel (global = C * local); the work-items stride over the
// channel's N*HW elements, then a tree reduction in local memory (local size a power of 2).
__kernel void channel_sum(__global const float* gy, __global float* out,
                          int N, int C, int HW, __local float* scratch) {
    int c = get_group_id(0), lid = get_local_id(0), ls = get_local_size(0);
    float acc = 0.0f;
    for (int n = 0; n < N; n++) {
        __global const float* p = gy + ((size_t)n * C + c) * HW;
        for (int i = lid; i < HW; i += ls) acc += p[i];
    }
    float total = tree_sum(acc, scratch);
    if (lid == 0) out[c] = total;
}

// y[n][c][i] += b[c]: the bias of a transposed convolution. global (HW, N*C).
__kernel void add_channel_bias(__global float* y, __global const float* b, int C, int HW) {
    int i = get_global_id(0), nc = get_global_id(1);
    if (i >= HW) return;
    y[(size_t)nc * HW + i] += b[nc % C];
}

// ---- Implicit-GEMM support (see gemm.cl) -----------------------------------------------
// The convolution of image n as a matrix product: Y[K][OH*OW] = W[K][C*KH*KW] x X[C*KH*KW][OH*OW],
// where X (im2col) holds at row r = (c*KH + ky)*KW + kx and column q = oy*OW + ox the input
// value the conv reads there (reflect or zero padding folded in). X is never stored whole
// in plain form: these kernels write it straight into GEMM panels.

// TN, the GEMM's panel width, comes from the build options shared with gemm.cl.
#ifndef TN
#define TN 16
#endif

// Panels over columns q (the forward's B operand): dst[qb][r][j] = X[r][qb*TN + j].
// One work-item per (r, qb) writes TN contiguous values; global (Rows, ceil(Q/TN)), so
// neighbouring work-items write neighbouring chunks and read overlapping input rows.
__kernel void im2col_pack_cols(__global const float* x, int x_off, __global float* dst,
                               int C, int H, int W, int OH, int OW, int KH, int KW,
                               int stride, int pad, int reflect) {
    int r = get_global_id(0), qb = get_global_id(1);
    int Q = OH * OW, Rows = C * KH * KW;
    if (r >= Rows || qb >= (Q + TN - 1) / TN) return;
    int kx = r % KW, ky = (r / KW) % KH, c = r / (KW * KH);
    __global const float* xc = x + x_off + (size_t)c * H * W;
    __global float* out = dst + ((size_t)qb * Rows + r) * TN;
    int q = qb * TN, oy = q / OW, ox = q % OW;
    for (int j = 0; j < TN; j++, q++) {
        float v = 0.0f;
        if (q < Q) {
            int iy = oy * stride - pad + ky, ix = ox * stride - pad + kx;
            if (reflect) v = xc[reflect_index(iy, H) * W + reflect_index(ix, W)];
            else if (iy >= 0 && iy < H && ix >= 0 && ix < W) v = xc[iy * W + ix];
        }
        out[j] = v;
        if (++ox == OW) { ox = 0; oy++; }
    }
}

// Panels over rows r (the weight gradient's B operand): dst[rb][q][j] = X[rb*TN + j][q].
// One work-item per (rb, oy) decodes its TN rows once, then walks the output row ox,
// writing TN contiguous values per position; global (OH, ceil(Rows/TN)).
__kernel void im2col_pack_rows(__global const float* x, int x_off, __global float* dst,
                               int C, int H, int W, int OH, int OW, int KH, int KW,
                               int stride, int pad, int reflect) {
    int oy = get_global_id(0), rb = get_global_id(1);
    int Q = OH * OW, Rows = C * KH * KW;
    if (oy >= OH || rb >= (Rows + TN - 1) / TN) return;
    int rowOffset[TN], kxs[TN];  // per j: offset of the input row read, and the tap kx (-1: padding row)
    for (int j = 0; j < TN; j++) {
        int r = rb * TN + j;
        rowOffset[j] = -1; kxs[j] = 0;
        if (r >= Rows) continue;
        int kx = r % KW, ky = (r / KW) % KH, c = r / (KW * KH);
        int iy = oy * stride - pad + ky;
        if (reflect) iy = reflect_index(iy, H);
        else if (iy < 0 || iy >= H) continue;
        rowOffset[j] = (c * H + iy) * W;
        kxs[j] = kx;
    }
    __global const float* xi = x + x_off;
    __global float* out = dst + ((size_t)rb * Q + oy * OW) * TN;
    for (int ox = 0; ox < OW; ox++) {
        for (int j = 0; j < TN; j++) {
            float v = 0.0f;
            int ix = ox * stride - pad + kxs[j];
            if (rowOffset[j] >= 0) {
                if (reflect) v = xi[rowOffset[j] + reflect_index(ix, W)];
                else if (ix >= 0 && ix < W) v = xi[rowOffset[j] + ix];
            }
            out[ox * TN + j] = v;
        }
    }
}

// The adjoint of im2col: gx[c][iy][ix] = sum of col[r][q] over every (r, q) whose im2col
// value was read from (iy, ix). Gathered per input element with the same preimage rule as
// conv2d_backward_data. col is [C*KH*KW][OH*OW]; global (W, H, C) for one image.
__kernel void col2im(__global const float* col, __global float* gx, int gx_off,
                     int C, int H, int W, int OH, int OW, int KH, int KW,
                     int stride, int pad, int reflect) {
    int ix = get_global_id(0), iy = get_global_id(1), c = get_global_id(2);
    if (ix >= W || iy >= H || c >= C) return;
    int rows[3], cols[3];
    int nr = reflect_preimages(iy, H, pad, reflect, rows);
    int ncol = reflect_preimages(ix, W, pad, reflect, cols);
    int Q = OH * OW;
    float acc = 0.0f;
    // Tap ky reaches this row when rows[a] - ky = oy*stride: step ky by the stride from
    // the first tap congruent to rows[a] (no division inside the loops).
    for (int a = 0; a < nr; a++) {
        int ky0 = rows[a] % stride;
        for (int ky = ky0; ky < KH; ky += stride) {
            int t = rows[a] - ky;
            if (t < 0) break;
            int oy = t / stride;
            if (oy >= OH) continue;
            for (int b = 0; b < ncol; b++) {
                int kx0 = cols[b] % stride;
                for (int kx = kx0; kx < KW; kx += stride) {
                    int s = cols[b] - kx;
                    if (s < 0) break;
                    int ox = s / stride;
                    if (ox >= OW) continue;
                    acc += col[((size_t)(c * KH + ky) * KW + kx) * Q + oy * OW + ox];
                }
            }
        }
    }
    gx[gx_off + ((size_t)c * H + iy) * W + ix] = acc;
}

// ---- Stride-1 convolutions without im2col ----------------------------------------------
// For stride 1, the B operand of the GEMM at (r = (c, ky, kx), q = (oy, ox .. ox+TN-1)) is
// TN consecutive values of one row of the padded input: a single vector load. So the
// input is padded once (reflect or zero, into rows of `ldx` floats with zero slack past the
// end so the last vector of a row stays inside it) and the GEMM reads it directly.

#ifndef TM
#define TM 16
#endif
#define CONV_CAT_(a, b) a##b
#define CONV_CAT(a, b) CONV_CAT_(a, b)
#define CVEC CONV_CAT(float, TN)
#define CVLOAD CONV_CAT(vload, TN)

// xp[c][py][px] = x[c][py - pad][px - pad] (reflected, or 0 outside for zero padding);
// px in [W + 2*pad, ldx) is slack, set to 0. One work-item per padded row: the interior is
// a straight copy of an input row. Global (H + 2*pad, C).
__kernel void pad_input(__global const float* x, int x_off, __global float* xp,
                        int C, int H, int W, int pad, int reflect, int ldx) {
    int py = get_global_id(0), c = get_global_id(1);
    int Hp = H + 2 * pad, Wp = W + 2 * pad;
    if (py >= Hp || c >= C) return;
    __global float* dst = xp + ((size_t)c * Hp + py) * ldx;
    int iy = py - pad;
    if (reflect) iy = reflect_index(iy, H);
    if (iy < 0 || iy >= H) {  // a zero-padding row
        for (int px = 0; px < ldx; px++) dst[px] = 0.0f;
        return;
    }
    __global const float* src = x + x_off + ((size_t)c * H + iy) * W;
    for (int px = 0; px < pad; px++) dst[px] = reflect ? src[reflect_index(px - pad, W)] : 0.0f;
    for (int ix = 0; ix < W; ix++) dst[pad + ix] = src[ix];
    for (int px = pad + W; px < Wp; px++) dst[px] = reflect ? src[reflect_index(px - pad, W)] : 0.0f;
    for (int px = Wp; px < ldx; px++) dst[px] = 0.0f;
}

// The slack after the last padded plane, read only for dropped positions: zero, so that
// a product with it is 0, never NaN from stale memory. Global (n).
__kernel void zero_tail(__global float* xp, int offset, int n) {
    int i = get_global_id(0);
    if (i < n) xp[offset + i] = 0.0f;
}

// y[m][oy][ox] = sum over (c, ky, kx) of A(m, (c*KH + ky)*KW + kx) * xp[c][oy + ky][ox + kx]
// (+ bias[m]), output rows ld_out apart; A packed as in gemm.cl: [ceil(M/TM)][C*KH*KW][TM].
// On the padded grid (rows ldx apart) output (oy, ox) reads xp[c][q + ky*ldx + kx] with
// q = oy*ldx + ox, so TN consecutive q are one vector load. One work-item computes TM
// output channels x TN consecutive q starting at q0 = row*row_stride + tile*TN:
// - row_stride = ldx: tiles within output rows (ldx holds the row's tiles plus KW - 1 slack);
// - row_stride = 0, one row: tiles over the flattened grid, across row ends (ldx = OW + KW - 1;
//   the KW - 1 positions past OW in each row are computed and dropped), which wastes less
//   when OW is not a multiple of TN. The input then needs TN + KW floats of slack at its end.
// Global (tiles, rows, ceil(M/TM)).
__kernel void conv2d_s1(__global const float* A, __global const float* xp, __global float* y, int y_off,
                        int M, int C, int KH, int KW, int OH, int OW, int Hp, int ldx,
                        __global const float* bias, int has_bias, int ld_out, int row_stride) {
    int tile = get_global_id(0), rowi = get_global_id(1), mb = get_global_id(2);
    int q0 = rowi * row_stride + tile * TN;
    if (q0 >= OH * ldx || mb * TM >= M) return;
    int Rows = C * KH * KW;
    __global const float* a = A + (size_t)mb * Rows * TM;
    CVEC acc[TM];
    #pragma unroll
    for (int i = 0; i < TM; i++) acc[i] = (CVEC)(0.0f);
    for (int c = 0; c < C; c++) {
        for (int ky = 0; ky < KH; ky++) {
            __global const float* row = xp + ((size_t)c * Hp + ky) * ldx + q0;
            for (int kx = 0; kx < KW; kx++) {
                CVEC bv = CVLOAD(0, row + kx);
                #pragma unroll
                for (int i = 0; i < TM; i++) acc[i] = fma((CVEC)(a[i]), bv, acc[i]);
                a += TM;
            }
        }
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
        __global float* out = y + y_off + (size_t)m * OH * ld_out;
        int oy = oy0, ox = ox0;
        for (int j = 0; j < TN; j++) {
            if (oy < OH && ox < OW) out[oy * ld_out + ox] = tmp[j];
            if (++ox == ldx) { ox = 0; oy++; }
        }
    }
}

// conv2d_s1_tiled: conv2d_s1 on the flattened padded grid (row_stride 0), shaped for GPUs
// as gemm_tiled is (gemm.cl): a work-group of WGN x WGM work-items computes WGM*TM output
// channels x WGN*TN consecutive grid positions q, staging slices of KS rows r of A and of
// the implicit B in local memory. B(r, q) = xp[off(r) + q] with off(r) = (c*Hp + ky)*ldx + kx
// for r = (c*KH + ky)*KW + kx, so a slice row is WGN*TN consecutive floats of xp: coalesced.
// The terms of each output are summed in conv2d_s1's order (the same bits). Positions past
// the grid load zeros and are not stored. Global (ceil(OH*ldx/TN), ceil(M/TM), 1), local
// (WGN, WGM, 1); WGM, WGN, KS and the tiles' row lengths are common.cl's.

__kernel __attribute__((reqd_work_group_size(WGN, WGM, 1)))
void conv2d_s1_tiled(__global const float* A, __global const float* xp, __global float* y, int y_off,
                     int M, int C, int KH, int KW, int OH, int OW, int Hp, int ldx,
                     __global const float* bias, int has_bias, int ld_out) {
    __local float As[KS * TILE_LDA];
    __local float Bs[KS * TILE_LDB];
    int tx = get_local_id(0), ty = get_local_id(1), lid = ty * WGN + tx;
    int mb0 = get_group_id(1) * WGM, q0 = get_group_id(0) * WGN * TN;
    int Rows = C * KH * KW, Q = OH * ldx, mPanels = (M + TM - 1) / TM, taps = KH * KW;

    TILE_ZERO(acc);

    for (int rs = 0; rs < Rows; rs += KS) {
        for (int f = lid; f < WGM * KS * TM; f += WGM * WGN) {  // A: as gemm_tiled
            int panel = f / (KS * TM), row = (f / TM) % KS, lane = f % TM;
            int p = mb0 + panel, r = rs + row;
            As[row * TILE_LDA + panel * TM + lane] = (p < mPanels && r < Rows) ? A[((size_t)p * Rows + r) * TM + lane] : 0.0f;
        }
        for (int f = lid; f < KS * WGN * TN; f += WGM * WGN) {  // B: row r, consecutive q
            int row = f / (WGN * TN), col = f % (WGN * TN);
            int r = rs + row, q = q0 + col;
            float v = 0.0f;
            if (r < Rows && q < Q) {
                int c = r / taps, t = r % taps, ky = t / KW, kx = t % KW;
                v = xp[((size_t)c * Hp + ky) * ldx + kx + q];
            }
            Bs[row * TILE_LDB + col] = v;
        }
        barrier(CLK_LOCAL_MEM_FENCE);
        TILE_SLICE_FMA(As, TILE_LDA, Bs, TILE_LDB, ty, tx, acc);
        barrier(CLK_LOCAL_MEM_FENCE);
    }

    for (int i = 0; i < TM; i++) {
        int m = (mb0 + ty) * TM + i;
        if (m >= M) break;
        __global float* out = y + y_off + (size_t)m * OH * ld_out;
        for (int j = 0; j < TN; j++) {
            int q = q0 + tx * TN + j, oy = q / ldx, ox = q % ldx;
            if (oy < OH && ox < OW) out[oy * ld_out + ox] = has_bias ? acc[i][j] + bias[m] : acc[i][j];
        }
    }
}

// The A operand of the stride-1 input gradient: panels over input channels c of the
// flipped, transposed weight, A[c/TM][(k*KH + ky)*KW + kx][c%TM] = w[k][c][KH-1-ky][KW-1-kx].
// One work-item per (c, k) copies its KH*KW taps; global (TM*ceil(C/TM), K).
__kernel void pack_flipped_weight(__global const float* w, __global float* dst, int K, int C, int KH, int KW) {
    int c = get_global_id(0), k = get_global_id(1);
    int taps = KH * KW, Rows = K * taps;
    if (k >= K || c >= (C + TM - 1) / TM * TM) return;
    __global float* out = dst + ((size_t)(c / TM) * Rows + k * taps) * TM + c % TM;
    __global const float* src = w + ((size_t)k * C + c) * taps;
    for (int t = 0; t < taps; t++) out[t * TM] = c < C ? src[taps - 1 - t] : 0.0f;
}

// gx[c][iy][ix] = the sum of the padded-input gradient gxp[c][py][px] (rows of ldx floats,
// Hp = H + 2*pad) over every padded position that reads (iy, ix): py = iy + pad always,
// and with reflect also the mirrored rows (reflect_preimages). One work-item per input row.
// Global (H, C).
__kernel void unpad_fold(__global const float* gxp, __global float* gx, int gx_off,
                         int C, int H, int W, int pad, int reflect, int ldx) {
    int iy = get_global_id(0), c = get_global_id(1);
    if (iy >= H || c >= C) return;
    int rows[3], cols[3];
    int nr = reflect_preimages(iy, H, pad, reflect, rows);
    int Hp = H + 2 * pad;
    __global const float* plane = gxp + (size_t)c * Hp * ldx;
    __global float* out = gx + gx_off + ((size_t)c * H + iy) * W;
    for (int ix = 0; ix < W; ix++) {
        int ncol = reflect_preimages(ix, W, pad, reflect, cols);
        float acc = 0.0f;
        for (int a = 0; a < nr; a++)
            for (int b = 0; b < ncol; b++) acc += plane[rows[a] * ldx + cols[b]];
        out[ix] = acc;
    }
}

// ---- Stride-1 weight gradient without im2col ---------------------------------------------
// gW[m][r] = sum over q of gY[m][q] * X[r][q]. On the flattened padded grid (rows ldx =
// OW + KW - 1 apart) X[r][q] = xp[c][q + ky*ldx + kx] for r = (c, ky, kx): for a fixed r a
// plain offset into xp. So each work-item takes TM rows r (their offsets computed once)
// and TN output channels m: per q, one vector load of gY (packed over m, zero at the
// dropped positions ox >= OW) and TM scalar loads of xp at the TM offsets, each broadcast
// into an fma. Partial sums per split of q go to partial[split][m][r], gw's own layout, so
// reduce_partials (gemm.cl) adds them into gw in a fixed order with contiguous reads; with
// one split the kernel writes (accumulate: adds) into gw itself.

// dst[mb][q][j] = gy[mb*TN + j][oy][ox] for q = oy*ldx + ox (0 where ox >= OW or m >= M).
// One work-item per (output row, m-panel) writes that row's TN-wide chunks in order.
// Global (OH, ceil(M/TN)).
__kernel void pack_flat_cols(__global const float* gy, int gy_off, __global float* dst,
                             int M, int OH, int OW, int ldx) {
    int oy = get_global_id(0), mb = get_global_id(1);
    if (oy >= OH || mb * TN >= M) return;
    __global float* out = dst + ((size_t)mb * OH * ldx + (size_t)oy * ldx) * TN;
    for (int ox = 0; ox < ldx; ox++) {
        for (int j = 0; j < TN; j++) {
            int m = mb * TN + j;
            out[ox * TN + j] = (m < M && ox < OW) ? gy[gy_off + ((size_t)m * OH + oy) * OW + ox] : 0.0f;
        }
    }
}

// Global (ceil(Rows/TM), ceil(M/TN), splits), Rows = C*KH*KW.
__kernel void conv2d_s1_wgrad(__global const float* xp, __global const float* gyp, __global float* partial,
                              int C, int KH, int KW, int Hp, int ldx, int M, int Q, int q_chunk, int accumulate) {
    int rb = get_global_id(0), mb = get_global_id(1), split = get_global_id(2);
    int Rows = C * KH * KW;
    if (rb * TM >= Rows || mb * TN >= M) return;
    int off[TM];
    for (int i = 0; i < TM; i++) {
        int r = min(rb * TM + i, Rows - 1);  // rows past the end repeat the last one; not written
        int kx = r % KW, ky = (r / KW) % KH, c = r / (KW * KH);
        off[i] = (c * Hp + ky) * ldx + kx;
    }
    int q0 = split * q_chunk, q1 = min(Q, q0 + q_chunk);
    __global const float* b = gyp + (size_t)mb * Q * TN;
    CVEC acc[TM];
    #pragma unroll
    for (int i = 0; i < TM; i++) acc[i] = (CVEC)(0.0f);
    for (int q = q0; q < q1; q++) {
        CVEC bv = CVLOAD(0, b + (size_t)q * TN);
        #pragma unroll
        for (int i = 0; i < TM; i++) acc[i] = fma((CVEC)(xp[off[i] + q]), bv, acc[i]);
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
// implicit A(r, q) = xp[off(r) + q] is loaded KS consecutive floats per row, the slice of
// gyp's panels as gemm_tiled loads B. The terms are summed in conv2d_s1_wgrad's order (q
// ascending: the same bits); outputs and the accumulate flag as there. Global
// (ceil(M/TN), ceil(Rows/TM), splits), local (WGN, WGM, 1).
__kernel __attribute__((reqd_work_group_size(WGN, WGM, 1)))
void conv2d_s1_wgrad_tiled(__global const float* xp, __global const float* gyp, __global float* partial,
                           int C, int KH, int KW, int Hp, int ldx, int M, int Q, int q_chunk, int accumulate) {
    __local float As[KS * TILE_LDA];
    __local float Bs[KS * TILE_LDB];
    int tx = get_local_id(0), ty = get_local_id(1), lid = ty * WGN + tx, split = get_global_id(2);
    int nb0 = get_group_id(0) * WGN, rb0 = get_group_id(1) * WGM;
    int Rows = C * KH * KW, taps = KH * KW, nPanels = (M + TN - 1) / TN;
    int q0 = split * q_chunk, q1 = min(Q, q0 + q_chunk);

    TILE_ZERO(acc);

    for (int qs = q0; qs < q1; qs += KS) {
        for (int f = lid; f < WGM * TM * KS; f += WGM * WGN) {  // A: KS consecutive q of each row r
            int rr = f / KS, kq = f % KS;
            int r = rb0 * TM + rr, q = qs + kq;
            float v = 0.0f;
            if (r < Rows && q < q1) {
                int c = r / taps, t = r % taps, ky = t / KW, kx = t % KW;
                v = xp[((size_t)c * Hp + ky) * ldx + kx + q];
            }
            As[kq * TILE_LDA + rr] = v;
        }
        for (int f = lid; f < WGN * KS * TN; f += WGM * WGN) {  // B: gyp panels, as gemm_tiled
            int panel = f / (KS * TN), kq = (f / TN) % KS, lane = f % TN;
            int p = nb0 + panel, q = qs + kq;
            Bs[kq * TILE_LDB + panel * TN + lane] = (p < nPanels && q < q1) ? gyp[((size_t)p * Q + q) * TN + lane] : 0.0f;
        }
        barrier(CLK_LOCAL_MEM_FENCE);
        TILE_SLICE_FMA(As, TILE_LDA, Bs, TILE_LDB, ty, tx, acc);
        barrier(CLK_LOCAL_MEM_FENCE);
    }

    __global float* out = partial + (size_t)split * Rows * M;
    for (int i = 0; i < TM; i++) {
        int r = (rb0 + ty) * TM + i;
        if (r >= Rows) break;
        for (int j = 0; j < TN; j++) {
            int m = (nb0 + tx) * TN + j;
            if (m >= M) break;
            size_t o = (size_t)m * Rows + r;
            out[o] = accumulate ? out[o] + acc[i][j] : acc[i][j];
        }
    }
}

// ---- GPU shape: one work-item per element of the row-walking helpers above -------------
// pad_input, unpad_fold and pack_flat_cols give each work-item a whole row (a straight copy
// that CPUs vectorise); on GPUs these element-wise twins write the same values with
// consecutive work-items on consecutive elements.

// pad_input's xp[c][py][px], one element per work-item. Global (ldx, H + 2*pad, C).
__kernel void pad_input_elem(__global const float* x, int x_off, __global float* xp,
                             int C, int H, int W, int pad, int reflect, int ldx) {
    int px = get_global_id(0), py = get_global_id(1), c = get_global_id(2);
    int Hp = H + 2 * pad, Wp = W + 2 * pad;
    if (px >= ldx || py >= Hp || c >= C) return;
    int iy = py - pad, ix = px - pad;
    if (reflect) { iy = reflect_index(iy, H); ix = reflect_index(ix, W); }
    xp[((size_t)c * Hp + py) * ldx + px] =
        (px < Wp && iy >= 0 && iy < H && ix >= 0 && ix < W) ? x[x_off + ((size_t)c * H + iy) * W + ix] : 0.0f;
}

// unpad_fold's gx[c][iy][ix], one element per work-item (the same preimages, the same
// order of the sum). Global (W, H, C).
__kernel void unpad_fold_elem(__global const float* gxp, __global float* gx, int gx_off,
                              int C, int H, int W, int pad, int reflect, int ldx) {
    int ix = get_global_id(0), iy = get_global_id(1), c = get_global_id(2);
    if (ix >= W || iy >= H || c >= C) return;
    int rows[3], cols[3];
    int nr = reflect_preimages(iy, H, pad, reflect, rows), ncol = reflect_preimages(ix, W, pad, reflect, cols);
    __global const float* plane = gxp + (size_t)c * (H + 2 * pad) * ldx;
    float acc = 0.0f;
    for (int a = 0; a < nr; a++)
        for (int b = 0; b < ncol; b++) acc += plane[rows[a] * ldx + cols[b]];
    gx[gx_off + ((size_t)c * H + iy) * W + ix] = acc;
}

// pack_flat_cols's dst[mb][q][j], one element per work-item. Global (ldx*TN, OH, ceil(M/TN)).
__kernel void pack_flat_cols_elem(__global const float* gy, int gy_off, __global float* dst,
                                  int M, int OH, int OW, int ldx) {
    int e = get_global_id(0), oy = get_global_id(1), mb = get_global_id(2);
    if (e >= ldx * TN || oy >= OH || mb * TN >= M) return;
    int ox = e / TN, j = e % TN, m = mb * TN + j;
    dst[((size_t)mb * OH * ldx + (size_t)oy * ldx) * TN + e] =
        (m < M && ox < OW) ? gy[gy_off + ((size_t)m * OH + oy) * OW + ox] : 0.0f;
}
