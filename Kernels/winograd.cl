// winograd.cl: 3x3 stride-1 convolutions by Winograd's minimal filtering F(2x2, 3x3)
// (Lavin and Gray, 2015): each 2x2 output tile is Aᵀ [ (G g Gᵀ) ⊙ (Bᵀ d B) ] A for the
// 4x4 input patch d under it, so the 9 multiply-adds per output of the direct form become
// 16 per 4 outputs, done as 16 independent matrix products over the channels (gemm.cl):
//   Mo[p][m][n] = sum over c of U[p][m][c] * V[p][c][n],  p = the 4x4 position (i*4 + j),
// with U the transformed weights, V the transformed input patches, n the output tile.
// The CPU reference computes the same convolution directly (CPUConv2d.swift).
// The input x and output y are act_t (common.cl); the operands are rounded as the precision
// asks (ROUND_X, ROUND_W) before they are transformed.
//
//   Bᵀ = | 1  0 -1  0 |    G = | 1    0    0  |    Aᵀ = | 1  1  1  0 |
//        | 0  1  1  0 |        | 1/2  1/2  1/2 |         | 0  1 -1 -1 |
//        | 0 -1  1  0 |        | 1/2 -1/2  1/2 |
//        | 0  1  0 -1 |        | 0    0    1  |
//
// The operands are written straight into the GEMM's panels (TM, TN from the build
// options shared with gemm.cl): U as [16][ceil(M/TM)][C][TM], V as [16][ceil(N/TN)][C][TN].
// The 16 positions lie `*_stride` floats apart: a little more than the panel, since 16
// streams a power-of-two distance apart (1 MiB at the residual convs' size) all map to the
// same cache sets, and the transforms then ran at 2 GB/s.

#ifndef TM
#define TM 16
#endif
#ifndef TN
#define TN 16
#endif

// U = G g Gᵀ for output channel m and input channel c, written to u[p][m/TM][c][m%TM]
// (zero for the padding rows m >= M). g = w[m][c] (w is [M][C][3][3]); with flip, the
// weight of the input gradient: g[ky][kx] = w[c][m][2-ky][2-kx] (w is [C][M][3][3]).
// Global (C, ceil(M/TM)*TM).
__kernel void winograd_weight(__global const float* w, __global float* u, int u_stride, int M, int C, int flip) {
    int c = get_global_id(0), m = get_global_id(1);
    int mblocks = (M + TM - 1) / TM;
    if (c >= C || m >= mblocks * TM) return;
    float g[3][3], t[4][3], U[4][4];
    for (int ky = 0; ky < 3; ky++)
        for (int kx = 0; kx < 3; kx++)
            g[ky][kx] = m >= M ? 0.0f
                : ROUND_W(flip ? w[((size_t)c * M + m) * 9 + (2 - ky) * 3 + (2 - kx)] : w[((size_t)m * C + c) * 9 + ky * 3 + kx]);
    for (int kx = 0; kx < 3; kx++) {  // t = G g: the columns
        t[0][kx] = g[0][kx];
        t[1][kx] = 0.5f * (g[0][kx] + g[1][kx] + g[2][kx]);
        t[2][kx] = 0.5f * (g[0][kx] - g[1][kx] + g[2][kx]);
        t[3][kx] = g[2][kx];
    }
    for (int i = 0; i < 4; i++) {  // U = t Gᵀ: the rows
        U[i][0] = t[i][0];
        U[i][1] = 0.5f * (t[i][0] + t[i][1] + t[i][2]);
        U[i][2] = 0.5f * (t[i][0] - t[i][1] + t[i][2]);
        U[i][3] = t[i][2];
    }
    __global float* out = u + ((size_t)(m / TM) * C + c) * TM + m % TM;
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++) out[(size_t)(i * 4 + j) * u_stride] = U[i][j];
}

// Column px of the padded input under patch rows row[0..3] (offsets of the input rows read,
// -1 for a zero row), transformed by Bᵀ: (d0 - d2, d1 + d2, d2 - d1, d1 - d3). Reflected or
// zero outside the input; 0 past the padded extent W + 2*pad.
inline float4 winograd_column(__global const act_t* xc, const int row[4], int px, int W, int pad, int reflect) {
    int ix = px - pad;
    if (reflect) ix = reflect_index(ix, W);
    int ok = px < W + 2 * pad && ix >= 0 && ix < W;
    float d0 = ok && row[0] >= 0 ? ROUND_X(LD(xc, row[0] + ix)) : 0.0f, d1 = ok && row[1] >= 0 ? ROUND_X(LD(xc, row[1] + ix)) : 0.0f;
    float d2 = ok && row[2] >= 0 ? ROUND_X(LD(xc, row[2] + ix)) : 0.0f, d3 = ok && row[3] >= 0 ? ROUND_X(LD(xc, row[3] + ix)) : 0.0f;
    return (float4)(d0 - d2, d1 + d2, d2 - d1, d1 - d3);
}

// The offsets in a channel of the four input rows of tile row ty (2*ty - pad onwards,
// reflected, or -1 for a zero row or past the padded extent).
inline void winograd_rows(int ty, int H, int W, int pad, int reflect, int row[4]) {
    for (int i = 0; i < 4; i++) {
        int py = 2 * ty + i, iy = py - pad;
        if (reflect) iy = reflect_index(iy, H);
        row[i] = (py < H + 2 * pad && iy >= 0 && iy < H) ? iy * W : -1;
    }
}

// V = Bᵀ d B for input channel c and every output tile n = ty*tiles_x + tx of tile row ty:
// d[i][j] is the padded input at (2*ty + i, 2*tx + j), i.e. x[c][2*ty + i - pad][2*tx + j - pad]
// (reflected, or zero outside; 0 past the padded extent, read only by the dropped outputs of
// a ragged last tile). Written to v[p][n/TN][c][n%TN]; the last tile row also zeroes the
// panel's padding columns n >= tiles. One work-item walks one tile row: the two right
// columns of a patch are the two left ones of the next, so each tile loads two new columns.
// The tiles may be a band: tile rows ty0 onwards, `tiles` of them in all (n counts from the
// band's first tile). Global (tiles / tiles_x, C).
__kernel void winograd_input(__global const act_t* x, int x_off, __global float* v, int v_stride,
                             int C, int H, int W, int pad, int reflect, int tiles_x, int tiles, int ty0) {
    int ty = get_global_id(0), c = get_global_id(1);
    int tiles_y = tiles / tiles_x, nblocks = (tiles + TN - 1) / TN;
    if (ty >= tiles_y || c >= C) return;
    __global const act_t* xc = x + x_off + (size_t)c * H * W;
    int row[4];
    winograd_rows(ty0 + ty, H, W, pad, reflect, row);
    size_t panel = v_stride;  // floats from position p = i*4 + j to the next
    // t0..t3: the columns of Bᵀ d; component i is row i
    float4 t0 = winograd_column(xc, row, 0, W, pad, reflect), t1 = winograd_column(xc, row, 1, W, pad, reflect);
    for (int tx = 0; tx < tiles_x; tx++) {
        float4 t2 = winograd_column(xc, row, 2 * tx + 2, W, pad, reflect);
        float4 t3 = winograd_column(xc, row, 2 * tx + 3, W, pad, reflect);
        float4 v0 = t0 - t2, v1 = t1 + t2, v2 = t2 - t1, v3 = t1 - t3;  // V = (Bᵀ d) B, column j = vj
        int n = ty * tiles_x + tx;
        __global float* out = v + ((size_t)(n / TN) * C + c) * TN + n % TN;
        out[0 * panel] = v0.x; out[1 * panel] = v1.x; out[2 * panel] = v2.x; out[3 * panel] = v3.x;
        out[4 * panel] = v0.y; out[5 * panel] = v1.y; out[6 * panel] = v2.y; out[7 * panel] = v3.y;
        out[8 * panel] = v0.z; out[9 * panel] = v1.z; out[10 * panel] = v2.z; out[11 * panel] = v3.z;
        out[12 * panel] = v0.w; out[13 * panel] = v1.w; out[14 * panel] = v2.w; out[15 * panel] = v3.w;
        t0 = t2; t1 = t3;
    }
    if (ty == tiles_y - 1) {
        for (int n = tiles; n < nblocks * TN; n++) {
            __global float* out = v + ((size_t)(n / TN) * C + c) * TN + n % TN;
            for (int p = 0; p < 16; p++) out[p * panel] = 0.0f;
        }
    }
}

// Y = Aᵀ s A (+ b) of one tile: s holds its 16 positions ps floats apart; the 2x2 outputs
// inside OH x OW go to out (the tile's first output row, rows ld_out apart) at column ox.
inline void winograd_store_tile(__global const float* s, size_t ps, __global act_t* out, int ox, int oy,
                                int OH, int OW, int ld_out, float b) {
    // the rows of the 4x4 tile, then t = Aᵀ s (2 x 4), then Y = t A
    float4 s0 = (float4)(s[0], s[ps], s[2 * ps], s[3 * ps]);
    float4 s1 = (float4)(s[4 * ps], s[5 * ps], s[6 * ps], s[7 * ps]);
    float4 s2 = (float4)(s[8 * ps], s[9 * ps], s[10 * ps], s[11 * ps]);
    float4 s3 = (float4)(s[12 * ps], s[13 * ps], s[14 * ps], s[15 * ps]);
    float4 r0 = s0 + s1 + s2, r1 = s1 - s2 - s3;
    ST(out, ox, r0.x + r0.y + r0.z + b);
    if (ox + 1 < OW) ST(out, ox + 1, r0.y - r0.z - r0.w + b);
    if (oy + 1 < OH) {
        ST(out, ld_out + ox, r1.x + r1.y + r1.z + b);
        if (ox + 1 < OW) ST(out, ld_out + ox + 1, r1.y - r1.z - r1.w + b);
    }
}

// Y = Aᵀ Mo A (+ bias[m]) for output channel m and every tile n of tile row ty, from
// mo[p][m][n] ([16][M][tiles], positions mo_stride apart); stores the outputs of each 2x2 tile that lie inside
// OH x OW, rows ld_out apart (y[m][oy][ox] at y_off + (m*OH + oy)*ld_out + ox); a band's
// tiles from tile row ty0 on. Global (tiles / tiles_x, M).
__kernel void winograd_output(__global const float* mo, int mo_stride, __global act_t* y, int y_off, int M, int tiles, int tiles_x,
                              int OH, int OW, int ld_out, __global const float* bias, int has_bias, int ty0) {
    int ty = get_global_id(0), m = get_global_id(1);
    if (ty >= tiles / tiles_x || m >= M) return;
    float b = has_bias ? bias[m] : 0.0f;
    size_t ps = mo_stride;  // floats from position p to the next
    int oy = 2 * (ty0 + ty);
    __global act_t* out = y + y_off + ((size_t)m * OH + oy) * ld_out;
    for (int tx = 0; tx < tiles_x; tx++) {
        winograd_store_tile(mo + (size_t)m * tiles + ty * tiles_x + tx, ps, out, 2 * tx, oy, OH, OW, ld_out, b);
    }
}

// ---- GPU shape: one work-item per tile --------------------------------------------------
// winograd_input and winograd_output walk a tile row per work-item (reusing two columns of
// each patch), which suits CPUs; on GPUs that leaves a few hundred work-items for a layer.
// These compute the same values, one tile per work-item: consecutive work-items take
// consecutive tiles n, so the transforms' loads of mo and stores of v and y are contiguous.

// V for tile n and input channel c, as winograd_input computes it; work-items with
// tiles <= n < ceil(tiles/TN)*TN zero the panel's padding columns. Global (ceil(tiles/TN)*TN, C).
__kernel void winograd_input_tile(__global const act_t* x, int x_off, __global float* v, int v_stride,
                                  int C, int H, int W, int pad, int reflect, int tiles_x, int tiles, int ty0) {
    int n = get_global_id(0), c = get_global_id(1);
    int nblocks = (tiles + TN - 1) / TN;
    if (n >= nblocks * TN || c >= C) return;
    size_t panel = v_stride;
    __global float* out = v + ((size_t)(n / TN) * C + c) * TN + n % TN;
    if (n >= tiles) {
        for (int p = 0; p < 16; p++) out[p * panel] = 0.0f;
        return;
    }
    int ty = ty0 + n / tiles_x, tx = n % tiles_x;
    __global const act_t* xc = x + x_off + (size_t)c * H * W;
    int row[4];
    winograd_rows(ty, H, W, pad, reflect, row);
    float4 t0 = winograd_column(xc, row, 2 * tx, W, pad, reflect), t1 = winograd_column(xc, row, 2 * tx + 1, W, pad, reflect);
    float4 t2 = winograd_column(xc, row, 2 * tx + 2, W, pad, reflect), t3 = winograd_column(xc, row, 2 * tx + 3, W, pad, reflect);
    float4 v0 = t0 - t2, v1 = t1 + t2, v2 = t2 - t1, v3 = t1 - t3;
    out[0 * panel] = v0.x; out[1 * panel] = v1.x; out[2 * panel] = v2.x; out[3 * panel] = v3.x;
    out[4 * panel] = v0.y; out[5 * panel] = v1.y; out[6 * panel] = v2.y; out[7 * panel] = v3.y;
    out[8 * panel] = v0.z; out[9 * panel] = v1.z; out[10 * panel] = v2.z; out[11 * panel] = v3.z;
    out[12 * panel] = v0.w; out[13 * panel] = v1.w; out[14 * panel] = v2.w; out[15 * panel] = v3.w;
}

// Y for tile n and output channel m, as winograd_output computes it. Global (tiles, M).
__kernel void winograd_output_tile(__global const float* mo, int mo_stride, __global act_t* y, int y_off, int M, int tiles,
                                   int tiles_x, int OH, int OW, int ld_out, __global const float* bias, int has_bias, int ty0) {
    int n = get_global_id(0), m = get_global_id(1);
    if (n >= tiles || m >= M) return;
    float b = has_bias ? bias[m] : 0.0f;
    size_t ps = mo_stride;
    int oy = 2 * (ty0 + n / tiles_x), ox = 2 * (n % tiles_x);
    winograd_store_tile(mo + (size_t)m * tiles + n, ps, y + y_off + ((size_t)m * OH + oy) * ld_out, ox, oy, OH, OW, ld_out, b);
}
