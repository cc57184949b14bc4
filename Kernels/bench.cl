// bench.cl: device ceilings for `cyclegan bench`.

// FMA throughput: CHAINS independent accumulator chains of FMA_WIDTH floats per work-item
// (written out, so no compiler has to unroll an array), so that the loop is bound by the
// FMA issue rate, not its latency. FMA_WIDTH is the device's preferred float vector width
// (a -D option). How many chains reach the peak depends on the register file: 16 float16
// chains fill half of AVX-512's 32 registers, while on AVX2 (16 registers) 16 float8
// chains spill and 12 reach the peak. So the host runs the 8-, 12- and 16-chain kernels
// and takes the best. 2 * FMA_WIDTH * CHAINS * iters FLOP per work-item.
#ifndef FMA_WIDTH
#define FMA_WIDTH 16
#endif
#if FMA_WIDTH == 1
#define FVEC float
#else
#define FVEC_(w) float##w
#define FVEC_W(w) FVEC_(w)
#define FVEC FVEC_W(FMA_WIDTH)
#endif

#define STEP(v) v = fma(v, va, vb)
#define INIT4(a, b, c, d, k) FVEC a = s0 + k, b = s0 + k + 1, c = s0 + k + 2, d = s0 + k + 3
#define STEP4(a, b, c, d) STEP(a); STEP(b); STEP(c); STEP(d)

// The sum of a vector's lanes, to keep every chain live.
static inline float lane_sum(FVEC s) {
    float t = 0.0f;
    for (int i = 0; i < FMA_WIDTH; i++) t += ((float*)&s)[i];
    return t;
}

__kernel void fma_peak_8(__global float* out, float a, float b, int iters, int n) {
    float s0 = get_global_id(0);
    FVEC va = (FVEC)(a), vb = (FVEC)(b);
    INIT4(c0, c1, c2, c3, 0); INIT4(c4, c5, c6, c7, 4);
    for (int it = 0; it < iters; it++) { STEP4(c0, c1, c2, c3); STEP4(c4, c5, c6, c7); }
    FVEC s = (c0 + c1) + (c2 + c3) + ((c4 + c5) + (c6 + c7));
    if (get_global_id(0) < n) out[get_global_id(0)] = lane_sum(s);
}

__kernel void fma_peak_12(__global float* out, float a, float b, int iters, int n) {
    float s0 = get_global_id(0);
    FVEC va = (FVEC)(a), vb = (FVEC)(b);
    INIT4(c0, c1, c2, c3, 0); INIT4(c4, c5, c6, c7, 4); INIT4(c8, c9, c10, c11, 8);
    for (int it = 0; it < iters; it++) { STEP4(c0, c1, c2, c3); STEP4(c4, c5, c6, c7); STEP4(c8, c9, c10, c11); }
    FVEC s = (c0 + c1) + (c2 + c3) + ((c4 + c5) + (c6 + c7)) + ((c8 + c9) + (c10 + c11));
    if (get_global_id(0) < n) out[get_global_id(0)] = lane_sum(s);
}

__kernel void fma_peak_16(__global float* out, float a, float b, int iters, int n) {
    float s0 = get_global_id(0);
    FVEC va = (FVEC)(a), vb = (FVEC)(b);
    INIT4(c0, c1, c2, c3, 0); INIT4(c4, c5, c6, c7, 4); INIT4(c8, c9, c10, c11, 8); INIT4(c12, c13, c14, c15, 12);
    for (int it = 0; it < iters; it++) {
        STEP4(c0, c1, c2, c3); STEP4(c4, c5, c6, c7); STEP4(c8, c9, c10, c11); STEP4(c12, c13, c14, c15);
    }
    FVEC s = ((c0 + c1) + (c2 + c3)) + ((c4 + c5) + (c6 + c7)) + ((c8 + c9) + (c10 + c11)) + ((c12 + c13) + (c14 + c15));
    if (get_global_id(0) < n) out[get_global_id(0)] = lane_sum(s);
}

// Copy bandwidth: float4 per work-item.
__kernel void copy_bandwidth(__global const float4* src, __global float4* dst, int n4) {
    int i = get_global_id(0);
    if (i < n4) dst[i] = src[i];
}
