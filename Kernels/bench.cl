// bench.cl: device ceilings for `cyclegan bench`.

// FMA throughput: 16 independent float16 accumulator chains per work-item (written out,
// so no compiler has to unroll an array), so the loop is bound by FMA issue rate, not
// latency. 2 * 16 * 16 * iters FLOP per work-item.
#define STEP(v) v = fma(v, va, vb)
__kernel void fma_peak(__global float* out, float a, float b, int iters, int n) {
    float s0 = get_global_id(0);
    float16 va = (float16)(a), vb = (float16)(b);
    float16 c0 = s0, c1 = s0 + 1, c2 = s0 + 2, c3 = s0 + 3, c4 = s0 + 4, c5 = s0 + 5, c6 = s0 + 6, c7 = s0 + 7;
    float16 c8 = s0 + 8, c9 = s0 + 9, c10 = s0 + 10, c11 = s0 + 11, c12 = s0 + 12, c13 = s0 + 13, c14 = s0 + 14, c15 = s0 + 15;
    for (int it = 0; it < iters; it++) {
        STEP(c0); STEP(c1); STEP(c2); STEP(c3); STEP(c4); STEP(c5); STEP(c6); STEP(c7);
        STEP(c8); STEP(c9); STEP(c10); STEP(c11); STEP(c12); STEP(c13); STEP(c14); STEP(c15);
    }
    float16 s = ((c0 + c1) + (c2 + c3)) + ((c4 + c5) + (c6 + c7)) + ((c8 + c9) + (c10 + c11)) + ((c12 + c13) + (c14 + c15));
    float8 h = s.lo + s.hi;
    float4 q = h.lo + h.hi;
    if (get_global_id(0) < n) out[get_global_id(0)] = q.x + q.y + q.z + q.w;
}

// Copy bandwidth: float4 per work-item.
__kernel void copy_bandwidth(__global const float4* src, __global float4* dst, int n4) {
    int i = get_global_id(0);
    if (i < n4) dst[i] = src[i];
}
