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

// The TM channels of a panel row as one vector where OpenCL C has that width (CPU tiles: 16;
// GPU: 4), else (other tilings of the tests) TM scalar lanes in turn.
#define WG_CAT_(a, b) a##b
#define WG_CAT(a, b) WG_CAT_(a, b)
#if TM == 2 || TM == 4 || TM == 8 || TM == 16
#define WLANES 1
#define WVEC WG_CAT(float, TM)
#define WLOAD(e, lane) WG_CAT(vload, TM)(0, e)
#define WSTORE(v, p, lane) WG_CAT(vstore, TM)(v, 0, p)
#else
#define WLANES TM
#define WVEC float
#define WLOAD(e, lane) (e)[lane]
#define WSTORE(v, p, lane) ((p)[lane] = (v))
#endif

// U = G g Gᵀ for the TM output channels m of panel mb and input channels c0 ..< c0 + c_chunk,
// written to u[p][mb][c][0..TM) (zero for the padding rows m >= M). g = w[m][c] (w is
// [M][C][3][3]); with flip, the weight of the input gradient: g[ky][kx] = w[c][m][2-ky][2-kx]
// (w is [C][M][3][3]). The TM channels of a panel row are one vector (WVEC), so the transform
// is vector arithmetic and each position one vector store, whether or not the compiler
// vectorises across work-items. A work-item walks its chunk of c (CPUs: a few long
// work-items; GPUs: c_chunk 1, consecutive work-items writing consecutive panel rows).
// Global (ceil(C/c_chunk), ceil(M/TM)).
__kernel void winograd_weight(__global const float* w, __global float* u, int u_stride, int M, int C, int flip, int c_chunk) {
    int c0 = get_global_id(0) * c_chunk, mb = get_global_id(1);
    if (c0 >= C || mb * TM >= M) return;
    int c1 = min(C, c0 + c_chunk);
    for (int c = c0; c < c1; c++) {
        float e[9][TM];  // e[ky*3 + kx][i]: tap (ky, kx) of channel mb*TM + i
        for (int k = 0; k < 9; k++) {
            for (int i = 0; i < TM; i++) {
                int m = mb * TM + i;
                e[k][i] = m >= M ? 0.0f : ROUND_W(flip ? w[((size_t)c * M + m) * 9 + 8 - k] : w[((size_t)m * C + c) * 9 + k]);
            }
        }
        __global float* out = u + ((size_t)mb * C + c) * TM;
        for (int lane = 0; lane < WLANES; lane++) {
            WVEC g[9], t[4][3];
            for (int k = 0; k < 9; k++) g[k] = WLOAD(e[k], lane);
            for (int kx = 0; kx < 3; kx++) {  // t = G g: the columns
                t[0][kx] = g[kx];
                t[1][kx] = 0.5f * (g[kx] + g[3 + kx] + g[6 + kx]);
                t[2][kx] = 0.5f * (g[kx] - g[3 + kx] + g[6 + kx]);
                t[3][kx] = g[6 + kx];
            }
            for (int i = 0; i < 4; i++) {  // U = t Gᵀ: the rows, position p = i*4 + j
                WSTORE(t[i][0], out + (size_t)(i * 4) * u_stride, lane);
                WSTORE(0.5f * (t[i][0] + t[i][1] + t[i][2]), out + (size_t)(i * 4 + 1) * u_stride, lane);
                WSTORE(0.5f * (t[i][0] - t[i][1] + t[i][2]), out + (size_t)(i * 4 + 2) * u_stride, lane);
                WSTORE(t[i][2], out + (size_t)(i * 4 + 3) * u_stride, lane);
            }
        }
    }
}

// Column px of the padded input under patch rows row[0..3] (offsets of the input rows read,
// -1 for a zero row), transformed by Bᵀ: (d0 - d2, d1 + d2, d2 - d1, d1 - d3). Reflected or
// zero outside the input; 0 past the padded extent W + 2*pad.
static inline float4 winograd_column(__global const act_t* xc, const int row[4], int px, int W, int pad, int reflect) {
    int ix = px - pad;
    if (reflect) ix = reflect_index(ix, W);
    int ok = px < W + 2 * pad && ix >= 0 && ix < W;
    float d0 = ok && row[0] >= 0 ? ROUND_X(LD(xc, row[0] + ix)) : 0.0f, d1 = ok && row[1] >= 0 ? ROUND_X(LD(xc, row[1] + ix)) : 0.0f;
    float d2 = ok && row[2] >= 0 ? ROUND_X(LD(xc, row[2] + ix)) : 0.0f, d3 = ok && row[3] >= 0 ? ROUND_X(LD(xc, row[3] + ix)) : 0.0f;
    return (float4)(d0 - d2, d1 + d2, d2 - d1, d1 - d3);
}

// The offsets in a channel of the four input rows of tile row ty (2*ty - pad onwards,
// reflected, or -1 for a zero row or past the padded extent).
static inline void winograd_rows(int ty, int H, int W, int pad, int reflect, int row[4]) {
    for (int i = 0; i < 4; i++) {
        int py = 2 * ty + i, iy = py - pad;
        if (reflect) iy = reflect_index(iy, H);
        row[i] = (py < H + 2 * pad && iy >= 0 && iy < H) ? iy * W : -1;
    }
}

// Stores V = (Bᵀ d) B, given as its columns v0..v3 (component i: row i), to out at the
// 16 positions p = i*4 + j, `panel` floats apart.
static inline void winograd_store_v(__global float* out, size_t panel, float4 v0, float4 v1, float4 v2, float4 v3) {
    out[0 * panel] = v0.x; out[1 * panel] = v1.x; out[2 * panel] = v2.x; out[3 * panel] = v3.x;
    out[4 * panel] = v0.y; out[5 * panel] = v1.y; out[6 * panel] = v2.y; out[7 * panel] = v3.y;
    out[8 * panel] = v0.z; out[9 * panel] = v1.z; out[10 * panel] = v2.z; out[11 * panel] = v3.z;
    out[12 * panel] = v0.w; out[13 * panel] = v1.w; out[14 * panel] = v2.w; out[15 * panel] = v3.w;
}

// V of tile (ty, tx) of channel plane xc, stored as winograd_store_v does.
static inline void winograd_tile(__global const act_t* xc, int H, int W, int pad, int reflect, int ty, int tx,
                          __global float* out, size_t panel) {
    int row[4];
    winograd_rows(ty, H, W, pad, reflect, row);
    float4 t0 = winograd_column(xc, row, 2 * tx, W, pad, reflect), t1 = winograd_column(xc, row, 2 * tx + 1, W, pad, reflect);
    float4 t2 = winograd_column(xc, row, 2 * tx + 2, W, pad, reflect), t3 = winograd_column(xc, row, 2 * tx + 3, W, pad, reflect);
    winograd_store_v(out, panel, t0 - t2, t1 + t2, t2 - t1, t1 - t3);
}

#ifdef CPU_SHAPE
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
        winograd_store_v(out, panel, v0, v1, v2, v3);
        t0 = t2; t1 = t3;
    }
    if (ty == tiles_y - 1) {
        for (int n = tiles; n < nblocks * TN; n++) {
            __global float* out = v + ((size_t)(n / TN) * C + c) * TN + n % TN;
            for (int p = 0; p < 16; p++) out[p * panel] = 0.0f;
        }
    }
}
#endif

// Y = Aᵀ s A (+ b) of one tile: s holds its 16 positions ps floats apart; the 2x2 outputs
// inside OH x OW go to out (the tile's first output row, rows ld_out apart) at column ox.
static inline void winograd_store_tile(__global const float* s, size_t ps, __global act_t* out, int ox, int oy,
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

#ifdef CPU_SHAPE
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
#endif

// ---- GPU shape: one work-item per tile --------------------------------------------------
// winograd_input and winograd_output walk a tile row per work-item (reusing two columns of
// each patch), which suits CPUs; on GPUs that leaves a few hundred work-items for a layer.
// These compute the same values, one tile per work-item: consecutive work-items take
// consecutive tiles n, so the transforms' loads of mo and stores of v and y are contiguous.

// V for tile n and input channel c, as winograd_input computes it, into a panel whose lanes
// are the tiles (the forward's B operand, v[p][n/TN][c][n%TN]; global (ceil(tiles/TN)*TN, C))
// or, with channel_lanes, the channels (the weight gradient's, v[p][c/TN][n][c%TN]; global
// (ceil(C/TN)*TN, tiles)). Dimension 0 is the lane, so consecutive work-items write
// consecutive floats; the panel's padding lanes (n >= tiles, or c >= C) are zero.
__kernel void winograd_input_tile(__global const act_t* x, int x_off, __global float* v, int v_stride,
                                  int C, int H, int W, int pad, int reflect, int tiles_x, int tiles, int ty0, int channel_lanes) {
    int n = channel_lanes ? get_global_id(1) : get_global_id(0), c = channel_lanes ? get_global_id(0) : get_global_id(1);
    if (channel_lanes ? (n >= tiles || c >= (C + TN - 1) / TN * TN) : (n >= (tiles + TN - 1) / TN * TN || c >= C)) return;
    size_t panel = v_stride;
    __global float* out = v + (channel_lanes ? ((size_t)(c / TN) * tiles + n) * TN + c % TN
                                             : ((size_t)(n / TN) * C + c) * TN + n % TN);
    if (n >= tiles || c >= C) {
        for (int p = 0; p < 16; p++) out[p * panel] = 0.0f;
        return;
    }
    winograd_tile(x + x_off + (size_t)c * H * W, H, W, pad, reflect, ty0 + n / tiles_x, n % tiles_x, out, panel);
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

// ---- The weight gradient: the forward's adjoint -----------------------------------------
// Each tile's outputs are Y = Aᵀ (U ⊙ V) A, so the gradient of U is the sum over the tiles
// of (A dY Aᵀ) ⊙ V, dY the tile's 2x2 output gradient, and the weight's is dg = Gᵀ dU G:
//   dU[p][m][c] = sum over tiles n of Ĝ[p][m][n] * V[p][c][n],   Ĝ = A dY Aᵀ,
// 16 products (gemm.cl) whose reduction runs over the tiles: Ĝ is their A operand, packed
// [16][ceil(M/TM)][tiles][TM], and V their B operand, [16][ceil(C/TN)][tiles][TN] (the
// forward's V with the roles of tiles and channels swapped). Positions lie `*_stride` floats
// apart, as in the forward.

// Ĝ = A dY Aᵀ for tile n of the band and output channel m: dY = |a b| the gradient of the
// tile's outputs             (zero outside OH x OW)          |c d|
//   A dY = rows (a, b), (a + c, b + d), (a - c, b - d), (-c, -d); each row (u, w) times Aᵀ is
//   (u, u + w, u - w, -w),
// written to g[p][m/TM][n][m%TM]; zero for the panel's padding channels M <= m. gy[m][oy][ox]
// at gy_off + (m*OH + oy)*OW + ox, rounded as an operand (ROUND_X). Global (ceil(M/TM)*TM, tiles).
__kernel void winograd_gy_wgrad(__global const act_t* gy, int gy_off, __global float* g, int g_stride,
                                int M, int OH, int OW, int tiles_x, int tiles, int ty0) {
    int m = get_global_id(0), n = get_global_id(1);
    if (n >= tiles || m >= (M + TM - 1) / TM * TM) return;
    size_t panel = g_stride;
    __global float* out = g + ((size_t)(m / TM) * tiles + n) * TM + m % TM;
    float a = 0.0f, b = 0.0f, c = 0.0f, d = 0.0f;
    if (m < M) {
        int oy = 2 * (ty0 + n / tiles_x), ox = 2 * (n % tiles_x);
        __global const act_t* r = gy + gy_off + ((size_t)m * OH + oy) * OW + ox;
        int right = ox + 1 < OW, below = oy + 1 < OH;
        a = ROUND_X(LD(r, 0));
        b = right ? ROUND_X(LD(r, 1)) : 0.0f;
        c = below ? ROUND_X(LD(r, OW)) : 0.0f;
        d = right && below ? ROUND_X(LD(r, OW + 1)) : 0.0f;
    }
    float2 r0 = (float2)(a, b), r1 = (float2)(a + c, b + d), r2 = (float2)(a - c, b - d), r3 = (float2)(-c, -d);
    out[0 * panel] = r0.x; out[1 * panel] = r0.x + r0.y; out[2 * panel] = r0.x - r0.y; out[3 * panel] = -r0.y;
    out[4 * panel] = r1.x; out[5 * panel] = r1.x + r1.y; out[6 * panel] = r1.x - r1.y; out[7 * panel] = -r1.y;
    out[8 * panel] = r2.x; out[9 * panel] = r2.x + r2.y; out[10 * panel] = r2.x - r2.y; out[11 * panel] = -r2.y;
    out[12 * panel] = r3.x; out[13 * panel] = r3.x + r3.y; out[14 * panel] = r3.x - r3.y; out[15 * panel] = -r3.y;
}

// gw[m][c] (+)= Gᵀ dU G for output channel m and input channel c, dU[p][m][c] the sum of
// the `splits` partial products du[p*du_stride + s*M*C + m*C + c], s in order. With s the 4
// positions of a row or column of dU,
//   Gᵀ s = (s0 + (s1 + s2)/2, (s1 - s2)/2, (s1 + s2)/2 + s3),
// first down the columns, then along the rows. accumulate adds to gw (the batch's later
// images and bands). Global (C, M).
__kernel void winograd_weight_grad(__global const float* du, int du_stride, int splits, __global float* gw, int M, int C,
                                   int accumulate) {
    int c = get_global_id(0), m = get_global_id(1);
    if (c >= C || m >= M) return;
    size_t ps = du_stride;
    float d[16];
    for (int p = 0; p < 16; p++) {
        __global const float* s = du + p * ps + (size_t)m * C + c;
        float sum = s[0];
        for (int k = 1; k < splits; k++) sum += s[(size_t)k * M * C];
        d[p] = sum;
    }
    float4 d0 = (float4)(d[0], d[1], d[2], d[3]), d1 = (float4)(d[4], d[5], d[6], d[7]);  // the rows of dU
    float4 d2 = (float4)(d[8], d[9], d[10], d[11]), d3 = (float4)(d[12], d[13], d[14], d[15]);
    float4 h = 0.5f * (d1 + d2);
    float4 e[3] = {d0 + h, 0.5f * (d1 - d2), h + d3};  // Gᵀ dU: 3 rows of 4
    __global float* out = gw + ((size_t)m * C + c) * 9;
    for (int ky = 0; ky < 3; ky++) {
        float4 r = e[ky];
        float hr = 0.5f * (r.y + r.z);
        float k0 = r.x + hr, k1 = 0.5f * (r.y - r.z), k2 = hr + r.w;  // (Gᵀ dU) G: along the row
        if (accumulate) { k0 += out[ky * 3]; k1 += out[ky * 3 + 1]; k2 += out[ky * 3 + 2]; }
        out[ky * 3] = k0; out[ky * 3 + 1] = k1; out[ky * 3 + 2] = k2;
    }
}

// ---- The weight gradient's transforms in the CPU shape: TN (TM) channels as one vector ----
// The same values as winograd_input_tile (channel_lanes) and winograd_gy_wgrad (the same operations on each
// channel), computed a tile row per work-item with the panel's channels as the lanes of one
// vector, so that each position of a tile is one vector store. Built where OpenCL C has a
// vector of TN and TM floats (the CPU tiles); other tilings run the kernels above.
#if defined(CPU_SHAPE) && (TN == 2 || TN == 4 || TN == 8 || TN == 16) && (TM == 2 || TM == 4 || TM == 8 || TM == 16)
#define VN WG_CAT(float, TN)
#define VN_LOAD(p) WG_CAT(vload, TN)(0, p)
#define VN_STORE(v, p) WG_CAT(vstore, TN)(v, 0, p)
#define VM WG_CAT(float, TM)
#define VM_LOAD(p) WG_CAT(vload, TM)(0, p)
#define VM_STORE(v, p) WG_CAT(vstore, TM)(v, 0, p)

// Column px of the padded input under patch rows row[0..3], for channels c0 ..< c0 + TN (zero
// past C), transformed by Bᵀ as winograd_column does: t[i] holds component i for every lane.
static inline void winograd_column_lanes(__global const act_t* x, int hw, int C, int c0, const int row[4], int px, int W,
                                  int pad, int reflect, VN t[4]) {
    int ix = px - pad;
    if (reflect) ix = reflect_index(ix, W);
    int ok = px < W + 2 * pad && ix >= 0 && ix < W;
    float d[4][TN];
    for (int i = 0; i < 4; i++)
        for (int l = 0; l < TN; l++)
            d[i][l] = ok && row[i] >= 0 && c0 + l < C ? ROUND_X(LD(x, (size_t)(c0 + l) * hw + row[i] + ix)) : 0.0f;
    VN d0 = VN_LOAD(d[0]), d1 = VN_LOAD(d[1]), d2 = VN_LOAD(d[2]), d3 = VN_LOAD(d[3]);
    t[0] = d0 - d2; t[1] = d1 + d2; t[2] = d2 - d1; t[3] = d1 - d3;
}

// V of every tile of tile row ty of the band for channel panel cb, to v[p][cb][n][0..TN).
// Global (ceil(C/TN), tiles / tiles_x).
__kernel void winograd_input_wgrad_rows(__global const act_t* x, int x_off, __global float* v, int v_stride,
                                        int C, int H, int W, int pad, int reflect, int tiles_x, int tiles, int ty0) {
    int cb = get_global_id(0), ty = get_global_id(1);
    if (cb * TN >= C || ty >= tiles / tiles_x) return;
    int row[4];
    winograd_rows(ty0 + ty, H, W, pad, reflect, row);
    __global const act_t* xb = x + x_off;
    size_t panel = v_stride;
    __global float* out = v + ((size_t)cb * tiles + ty * tiles_x) * TN;
    VN t0[4], t1[4], t2[4], t3[4];  // the patch's columns; component i is row i of Bᵀ d
    winograd_column_lanes(xb, H * W, C, cb * TN, row, 0, W, pad, reflect, t0);
    winograd_column_lanes(xb, H * W, C, cb * TN, row, 1, W, pad, reflect, t1);
    for (int tx = 0; tx < tiles_x; tx++) {
        winograd_column_lanes(xb, H * W, C, cb * TN, row, 2 * tx + 2, W, pad, reflect, t2);
        winograd_column_lanes(xb, H * W, C, cb * TN, row, 2 * tx + 3, W, pad, reflect, t3);
        __global float* o = out + (size_t)tx * TN;
        for (int i = 0; i < 4; i++) {  // position i*4 + j: column j of (Bᵀ d) B, component i
            VN_STORE(t0[i] - t2[i], o + (size_t)(i * 4) * panel);
            VN_STORE(t1[i] + t2[i], o + (size_t)(i * 4 + 1) * panel);
            VN_STORE(t2[i] - t1[i], o + (size_t)(i * 4 + 2) * panel);
            VN_STORE(t1[i] - t3[i], o + (size_t)(i * 4 + 3) * panel);
        }
        for (int i = 0; i < 4; i++) { t0[i] = t2[i]; t1[i] = t3[i]; }
    }
}

// Ĝ of every tile of tile row ty of the band for output-channel panel mb, to g[p][mb][n][0..TM).
// Global (ceil(M/TM), tiles / tiles_x).
__kernel void winograd_gy_wgrad_rows(__global const act_t* gy, int gy_off, __global float* g, int g_stride,
                                     int M, int OH, int OW, int tiles_x, int tiles, int ty0) {
    int mb = get_global_id(0), ty = get_global_id(1);
    if (mb * TM >= M || ty >= tiles / tiles_x) return;
    size_t panel = g_stride;
    int oy = 2 * (ty0 + ty), below = oy + 1 < OH;
    __global float* out = g + ((size_t)mb * tiles + ty * tiles_x) * TM;
    for (int tx = 0; tx < tiles_x; tx++) {
        int ox = 2 * tx, right = ox + 1 < OW;
        float e[4][TM];  // a, b, c, d of each lane
        for (int l = 0; l < TM; l++) {
            int m = mb * TM + l;
            __global const act_t* r = gy + gy_off + ((size_t)m * OH + oy) * OW + ox;
            e[0][l] = m < M ? ROUND_X(LD(r, 0)) : 0.0f;
            e[1][l] = m < M && right ? ROUND_X(LD(r, 1)) : 0.0f;
            e[2][l] = m < M && below ? ROUND_X(LD(r, OW)) : 0.0f;
            e[3][l] = m < M && right && below ? ROUND_X(LD(r, OW + 1)) : 0.0f;
        }
        VM a = VM_LOAD(e[0]), b = VM_LOAD(e[1]), c = VM_LOAD(e[2]), d = VM_LOAD(e[3]);
        VM rx[4] = {a, a + c, a - c, -c}, ry[4] = {b, b + d, b - d, -d};  // the rows of A dY
        __global float* o = out + (size_t)tx * TM;
        for (int i = 0; i < 4; i++) {  // each row (u, w) times Aᵀ: (u, u + w, u - w, -w)
            VM_STORE(rx[i], o + (size_t)(i * 4) * panel);
            VM_STORE(rx[i] + ry[i], o + (size_t)(i * 4 + 1) * panel);
            VM_STORE(rx[i] - ry[i], o + (size_t)(i * 4 + 2) * panel);
            VM_STORE(-ry[i], o + (size_t)(i * 4 + 3) * panel);
        }
    }
}

// winograd_weight_grad for the TN input channels c0 = cb*TN.. of output channel m as one
// vector (the same operations on each lane); the last panel's lanes past C are computed
// from clamped reads and not stored. Global (ceil(C/TN), M).
__kernel void winograd_weight_grad_lanes(__global const float* du, int du_stride, int splits, __global float* gw, int M, int C,
                                         int accumulate) {
    int cb = get_global_id(0), m = get_global_id(1);
    int c0 = cb * TN;
    if (c0 >= C || m >= M) return;
    size_t ps = du_stride;
    int full = c0 + TN <= C;
    VN d[16];
    for (int p = 0; p < 16; p++) {
        __global const float* s = du + p * ps + (size_t)m * C + c0;
        float e[TN];
        for (int l = 0; l < TN; l++) e[l] = 0.0f;
        for (int k = 0; k < splits; k++) {
            __global const float* sk = s + (size_t)k * M * C;
            if (full) {
                VN x = VN_LOAD(sk);
                if (k == 0) VN_STORE(x, e); else VN_STORE(VN_LOAD(e) + x, e);
            } else {
                for (int l = 0; l < TN && c0 + l < C; l++) e[l] = k == 0 ? sk[l] : e[l] + sk[l];
            }
        }
        d[p] = VN_LOAD(e);
    }
    VN h[4], e0[4], e1[4], e2[4];  // Gᵀ dU: rows e0, e1, e2, each of 4 columns
    for (int j = 0; j < 4; j++) {
        h[j] = 0.5f * (d[4 + j] + d[8 + j]);
        e0[j] = d[j] + h[j]; e1[j] = 0.5f * (d[4 + j] - d[8 + j]); e2[j] = h[j] + d[12 + j];
    }
    float o[9][TN];
    for (int ky = 0; ky < 3; ky++) {
        VN* r = ky == 0 ? e0 : ky == 1 ? e1 : e2;
        VN hr = 0.5f * (r[1] + r[2]);
        VN_STORE(r[0] + hr, o[ky * 3]); VN_STORE(0.5f * (r[1] - r[2]), o[ky * 3 + 1]); VN_STORE(hr + r[3], o[ky * 3 + 2]);
    }
    __global float* out = gw + ((size_t)m * C + c0) * 9;
    for (int l = 0; l < TN && c0 + l < C; l++)
        for (int k = 0; k < 9; k++) out[l * 9 + k] = accumulate ? out[l * 9 + k] + o[k][l] : o[k][l];
}
#endif

// ---- The forward's output transform over whole panels of 16 tiles (CPU shape, TN = 16) ----
// Where a tile row holds whole panels (tiles_x a multiple of 16), a panel's 16 tiles are
// consecutive tiles of one row: each position of the panel is one vector load of mo, the
// transform runs on vectors, and each output row's 32 values are interleaved from two
// vectors into two vector stores. The same operations per tile as winograd_store_tile (the
// same bits). (The input transform written the same way, reading each patch row as 34
// consecutive columns split into even and odd lanes, was slower than winograd_input here:
// 0.58 against 0.3-0.4 ms at 32x32, 256 channels.)
#if defined(CPU_SHAPE) && TN == 16
// Y of the 16 tiles of panel nb (all in one tile row; OW even, so every tile's outputs lie
// inside the row) and output channel m, as winograd_store_tile computes each, from
// mo[p][m][n]. Global (tiles / 16, M).
__kernel void winograd_output_rows16(__global const float* mo, int mo_stride, __global act_t* y, int y_off, int M, int tiles,
                                     int tiles_x, int OH, int OW, int ld_out, __global const float* bias, int has_bias, int ty0) {
    int nb = get_global_id(0), m = get_global_id(1);
    if (nb * 16 >= tiles || m >= M) return;
    int n0 = nb * 16, oy = 2 * (ty0 + n0 / tiles_x);
    float b = has_bias ? bias[m] : 0.0f;
    size_t ps = mo_stride;
    __global const float* s = mo + (size_t)m * tiles + n0;
    float16 q[16];
    for (int p = 0; p < 16; p++) q[p] = vload16(0, s + p * ps);
    float16 r0[4], r1[4];  // r0 = s0 + s1 + s2, r1 = s1 - s2 - s3 over the tile's rows
    for (int j = 0; j < 4; j++) { r0[j] = q[j] + q[4 + j] + q[8 + j]; r1[j] = q[4 + j] - q[8 + j] - q[12 + j]; }
    float16 y00 = r0[0] + r0[1] + r0[2] + b, y01 = r0[1] - r0[2] - r0[3] + b;
    float16 y10 = r1[0] + r1[1] + r1[2] + b, y11 = r1[1] - r1[2] - r1[3] + b;
    // output column 2l is lane l of y?0, column 2l + 1 lane l of y?1
    uint16 lo = (uint16)(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23), hi = lo + (uint16)(8);
    __global act_t* out = y + y_off + ((size_t)m * OH + oy) * ld_out + 2 * (n0 % tiles_x);
    ST16(shuffle2(y00, y01, lo), out);
    ST16(shuffle2(y00, y01, hi), out + 16);
    if (oy + 1 < OH) {
        ST16(shuffle2(y10, y11, lo), out + ld_out);
        ST16(shuffle2(y10, y11, hi), out + ld_out + 16);
    }
}
#endif
