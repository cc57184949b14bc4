// bench.cl: device ceilings for `cyclegan bench`.

// FMA throughput: 16 independent float16 accumulator chains per work-item, so the
// loop is bound by FMA issue rate, not latency. 2 * 16 * 16 * iters FLOP per work-item.
__kernel void fma_peak(__global float* out, float a, float b, int iters) {
    float16 acc[16];
    for (int j = 0; j < 16; j++) acc[j] = (float16)(get_global_id(0) + j);
    float16 va = (float16)(a), vb = (float16)(b);
    for (int it = 0; it < iters; it++) {
        for (int j = 0; j < 16; j++) acc[j] = fma(acc[j], va, vb);
    }
    float16 s = acc[0];
    for (int j = 1; j < 16; j++) s += acc[j];
    out[get_global_id(0)] = s.s0 + s.s1 + s.s2 + s.s3 + s.s4 + s.s5 + s.s6 + s.s7
                          + s.s8 + s.s9 + s.sa + s.sb + s.sc + s.sd + s.se + s.sf;
}

// Copy bandwidth: float4 per work-item.
__kernel void copy_bandwidth(__global const float4* src, __global float4* dst, int n4) {
    int i = get_global_id(0);
    if (i < n4) dst[i] = src[i];
}
