// instance_norm.cl: instance normalisation over each (n, c) plane, no affine.
// Two variants of the same op, whose reference is instanceNormForward / instanceNormBackward
// in Sources/CycleGAN/Backend/CPU/CPUInstanceNorm.swift: GPU-shaped devices run
// instance_norm_forward and instance_norm_backward, one work-group per plane (global =
// planes * local; local size a power of 2), or for planes too large to leave the device
// enough work-groups the *_wg chunk kernels, several work-groups per plane; CPU-shaped
// devices the barrier-free chunked kernels of the last part of this file.

// tree_sum (common.cl) reduces one value per work-item over the work-group.
//
// Fusion (instanceNorm2d(leakyReLUSlope:) and instanceNorm2d(adding:) in
// Sources/CycleGAN/Tensor/NormOps.swift): every forward ends in norm_epilogue, which applies
// the LeakyReLU that follows the norm (slope 0: ReLU; act != 0) or adds the residual
// block's skip (has_res != 0). The fused backward reads the norm's input x and recomputes
// the normalised value from the saved mean and rstd (from_x != 0; the same float
// expression as the forward, so the same bits), and takes the activation's derivative
// first (norm_grad_in); the unfused backward reads the normalised output y itself.

// The norm's output from the normalised value v at element `at`: LeakyReLU (as
// leaky_relu_forward computes it) when act, plus res[at] when has_res.
static inline float norm_epilogue(float v, int act, float slope, __global const act_t* res, int has_res, size_t at) {
    if (act) v = v > 0.0f ? v : slope * v;
    return has_res ? v + LD(res, at) : v;
}

// The normalised value at an element: v itself, or (v - mean) * rstd when from_x.
static inline float norm_yhat(float v, int from_x, float mean, float rstd) { return from_x ? (v - mean) * rstd : v; }

// The gradient that reaches the normalised value yh: gy through LeakyReLU's derivative
// (as leaky_relu_backward computes it) when act.
static inline float norm_grad_in(float g, float yh, int act, float slope) { return act && !(yh > 0.0f) ? slope * g : g; }

// y = (x - mean) * rstd with biased variance; saves mean and rstd = 1/sqrt(var + eps).
// Two passes over the plane (mean, then squared deviations) for a sound variance.
__kernel void instance_norm_forward(__global const act_t* x, __global act_t* y,
                                    __global float* mean_out, __global float* rstd_out,
                                    int HW, float eps, int act, float slope, __global const act_t* res, int has_res,
                                    __local float* scratch) {
    int plane = get_group_id(0), lid = get_local_id(0), ls = get_local_size(0);
    __global const act_t* xp = x + (size_t)plane * HW;
    __global act_t* yp = y + (size_t)plane * HW;
    float s = 0.0f;
    for (int i = lid; i < HW; i += ls) s += LD(xp, i);
    float mean = tree_sum(s, scratch) / HW;
    float v = 0.0f;
    for (int i = lid; i < HW; i += ls) { float d = LD(xp, i) - mean; v += d * d; }
    float var = tree_sum(v, scratch) / HW;
    float rstd = 1.0f / sqrt(var + eps);
    for (int i = lid; i < HW; i += ls) ST(yp, i, norm_epilogue((LD(xp, i) - mean) * rstd, act, slope, res, has_res, (size_t)plane * HW + i));
    if (lid == 0) { mean_out[plane] = mean; rstd_out[plane] = rstd; }
}

// gx = rstd * (g - mean(g) - yh * mean(g * yh)), with yh the normalised value (norm_yhat of
// v) and g the gradient that reaches it (norm_grad_in of gy).
__kernel void instance_norm_backward(__global const act_t* v, __global const act_t* gy,
                                     __global const float* mean, __global const float* rstd, __global act_t* gx,
                                     int HW, int from_x, int act, float slope,
                                     __local float* scratch) {
    int plane = get_group_id(0), lid = get_local_id(0), ls = get_local_size(0);
    __global const act_t* vp = v + (size_t)plane * HW;
    __global const act_t* gp = gy + (size_t)plane * HW;
    __global act_t* gxp = gx + (size_t)plane * HW;
    float m = mean[plane], r = rstd[plane];
    float a = 0.0f, b = 0.0f;
    for (int i = lid; i < HW; i += ls) {
        float yh = norm_yhat(LD(vp, i), from_x, m, r), g = norm_grad_in(LD(gp, i), yh, act, slope);
        a += g; b += g * yh;
    }
    float mean_gy = tree_sum(a, scratch) / HW;
    float mean_gyy = tree_sum(b, scratch) / HW;
    for (int i = lid; i < HW; i += ls) {
        float yh = norm_yhat(LD(vp, i), from_x, m, r), g = norm_grad_in(LD(gp, i), yh, act, slope);
        ST(gxp, i, r * (g - mean_gy - yh * mean_gyy));
    }
}

// ---- GPU-shaped, several work-groups per plane ------------------------------------------
// One work-group per plane leaves most of a GPU idle when planes are few and large (64
// planes of 256x256 for 132 multiprocessors). Large planes are cut into chunks of `chunk`
// elements, each reduced by its own work-group (global (chunks * local, planes)) into the
// same (mean, M2) or (sum gy, sum gy*y) partials as the CPU variant's, merged per plane in
// a fixed order (instance_norm_merge above for the statistics, instance_norm_merge_grad
// below), and applied with one work-item per element (global (HW, planes)).

// part[(plane*chunks + k)*2 + {0,1}] = (mean, M2) of chunk k, two passes over the chunk.
__kernel void instance_norm_chunk_stats_wg(__global const act_t* x, __global float* part, int HW, int chunk,
                                           __local float* scratch) {
    int k = get_group_id(0), plane = get_global_id(1), lid = get_local_id(0), ls = get_local_size(0);
    int chunks = (HW + chunk - 1) / chunk;
    int i0 = k * chunk, i1 = min(HW, i0 + chunk);
    __global const act_t* p = x + (size_t)plane * HW;
    float s = 0.0f;
    for (int i = i0 + lid; i < i1; i += ls) s += LD(p, i);
    float mean = tree_sum(s, scratch) / (i1 - i0);
    float v = 0.0f;
    for (int i = i0 + lid; i < i1; i += ls) { float d = LD(p, i) - mean; v += d * d; }
    float m2 = tree_sum(v, scratch);
    if (lid == 0) {
        part[((size_t)plane * chunks + k) * 2] = mean;
        part[((size_t)plane * chunks + k) * 2 + 1] = m2;
    }
}

// y = norm_epilogue((x - mean) * rstd), one element per work-item; global (HW, planes).
__kernel void instance_norm_apply_elem(__global const act_t* x, __global act_t* y, __global const float* mean,
                                       __global const float* rstd, int HW,
                                       int act, float slope, __global const act_t* res, int has_res) {
    int i = get_global_id(0), plane = get_global_id(1);
    if (i >= HW) return;
    size_t at = (size_t)plane * HW + i;
    ST(y, at, norm_epilogue((LD(x, at) - mean[plane]) * rstd[plane], act, slope, res, has_res, at));
}

// part[(plane*chunks + k)*2 + {0,1}] = (sum g, sum g*yh) over chunk k (yh, g as in
// instance_norm_backward).
__kernel void instance_norm_chunk_grad_sums_wg(__global const act_t* v, __global const act_t* gy,
                                               __global const float* mean, __global const float* rstd, __global float* part,
                                               int HW, int chunk, int from_x, int act, float slope, __local float* scratch) {
    int k = get_group_id(0), plane = get_global_id(1), lid = get_local_id(0), ls = get_local_size(0);
    int chunks = (HW + chunk - 1) / chunk;
    int i0 = k * chunk, i1 = min(HW, i0 + chunk);
    __global const act_t* vp = v + (size_t)plane * HW;
    __global const act_t* gp = gy + (size_t)plane * HW;
    float m = mean[plane], r = rstd[plane];
    float a = 0.0f, b = 0.0f;
    for (int i = i0 + lid; i < i1; i += ls) {
        float yh = norm_yhat(LD(vp, i), from_x, m, r), g = norm_grad_in(LD(gp, i), yh, act, slope);
        a += g; b += g * yh;
    }
    a = tree_sum(a, scratch);
    b = tree_sum(b, scratch);
    if (lid == 0) {
        part[((size_t)plane * chunks + k) * 2] = a;
        part[((size_t)plane * chunks + k) * 2 + 1] = b;
    }
}

// stats[plane*2 + {0,1}] = (mean(gy), mean(gy*y)): the chunk sums added in order; global (planes).
__kernel void instance_norm_merge_grad(__global const float* part, __global float* stats, int planes, int HW, int chunk) {
    int plane = get_global_id(0);
    if (plane >= planes) return;
    int chunks = (HW + chunk - 1) / chunk;
    float a = 0.0f, b = 0.0f;
    for (int k = 0; k < chunks; k++) {
        a += part[((size_t)plane * chunks + k) * 2];
        b += part[((size_t)plane * chunks + k) * 2 + 1];
    }
    stats[plane * 2] = a / HW;
    stats[plane * 2 + 1] = b / HW;
}

// gx = rstd * (g - mean(g) - yh * mean(g*yh)), one element per work-item; global (HW, planes).
__kernel void instance_norm_apply_grad_elem(__global const act_t* v, __global const act_t* gy, __global const float* stats,
                                            __global const float* mean, __global const float* rstd, __global act_t* gx, int HW,
                                            int from_x, int act, float slope) {
    int i = get_global_id(0), plane = get_global_id(1);
    if (i >= HW) return;
    size_t at = (size_t)plane * HW + i;
    float r = rstd[plane], yh = norm_yhat(LD(v, at), from_x, mean[plane], r), g = norm_grad_in(LD(gy, at), yh, act, slope);
    ST(gx, at, r * (g - stats[plane * 2] - yh * stats[plane * 2 + 1]));
}

// ---- CPU-shaped variant: no barriers ---------------------------------------------------
// PoCL turns a work-group into a loop and splits it at every barrier, which makes the
// work-group kernels above slow on CPUs. These do the same in three barrier-free steps:
// statistics per contiguous chunk of a plane, a merge per plane in a fixed order (Chan's
// pairwise update of mean and squared deviations: a sound variance), then one pass.
// Each chunk is `chunk` elements; global (ceil(HW/chunk), planes).

#ifdef CPU_SHAPE
// Sum of a float16 vector's lanes.
static inline float hsum16(float16 v) {
    float8 h = v.lo + v.hi;
    float4 q = h.lo + h.hi;
    return (q.x + q.y) + (q.z + q.w);
}
#endif

#ifdef CPU_SHAPE
// part[(plane*chunks + k)*2 + {0,1}] = (mean, M2) of chunk k: two passes over the chunk.
__kernel void instance_norm_chunk_stats(__global const act_t* x, __global float* part, int HW, int chunk) {
    int k = get_global_id(0), plane = get_global_id(1);
    int chunks = (HW + chunk - 1) / chunk;
    if (k >= chunks) return;
    int i0 = k * chunk, i1 = min(HW, i0 + chunk);
    __global const act_t* p = x + (size_t)plane * HW;
    // float16 lanes (16 partial sums: vector code on CPUs), the ragged tail scalar
    int iv = i0 + (i1 - i0) / 16 * 16;
    float16 sv = (float16)(0.0f);
    for (int i = i0; i < iv; i += 16) sv += LD16(p + i);
    float s = hsum16(sv);
    for (int i = iv; i < i1; i++) s += LD(p, i);
    float mean = s / (i1 - i0);
    float16 mv = (float16)(0.0f);
    for (int i = i0; i < iv; i += 16) { float16 d = LD16(p + i) - mean; mv += d * d; }
    float m2 = hsum16(mv);
    for (int i = iv; i < i1; i++) { float d = LD(p, i) - mean; m2 += d * d; }
    part[((size_t)plane * chunks + k) * 2] = mean;
    part[((size_t)plane * chunks + k) * 2 + 1] = m2;
}
#endif

// Merges the chunks of each plane in order; global (planes).
__kernel void instance_norm_merge(__global const float* part, __global float* mean_out, __global float* rstd_out,
                                  int planes, int HW, int chunk, float eps) {
    int plane = get_global_id(0);
    if (plane >= planes) return;
    int chunks = (HW + chunk - 1) / chunk;
    float n = 0.0f, mean = 0.0f, m2 = 0.0f;
    for (int k = 0; k < chunks; k++) {
        float nb = min(chunk, HW - k * chunk);
        float mb = part[((size_t)plane * chunks + k) * 2], m2b = part[((size_t)plane * chunks + k) * 2 + 1];
        float nt = n + nb, d = mb - mean;
        mean += d * nb / nt;
        m2 += m2b + d * d * n * nb / nt;
        n = nt;
    }
    mean_out[plane] = mean;
    rstd_out[plane] = 1.0f / sqrt(m2 / HW + eps);
}

#ifdef CPU_SHAPE
// y = norm_epilogue((x - mean) * rstd) over chunk k of each plane (float16 vectors, the
// epilogue's select and add lane by lane).
__kernel void instance_norm_apply(__global const act_t* x, __global act_t* y, __global const float* mean,
                                  __global const float* rstd, int HW, int chunk,
                                  int act, float slope, __global const act_t* res, int has_res) {
    int k = get_global_id(0), plane = get_global_id(1);
    int i0 = k * chunk, i1 = min(HW, i0 + chunk);
    if (i0 >= HW) return;
    float m = mean[plane], r = rstd[plane];
    __global const act_t* p = x + (size_t)plane * HW;
    __global const act_t* rp = res + (size_t)plane * HW;
    __global act_t* q = y + (size_t)plane * HW;
    int iv = i0 + (i1 - i0) / 16 * 16;
    for (int i = i0; i < iv; i += 16) {
        float16 v = (LD16(p + i) - m) * r;
        if (act) v = select(slope * v, v, v > 0.0f);
        if (has_res) v += LD16(rp + i);
        ST16(v, q + i);
    }
    for (int i = iv; i < i1; i++) ST(q, i, norm_epilogue((LD(p, i) - m) * r, act, slope, res, has_res, (size_t)plane * HW + i));
}
#endif

#ifdef CPU_SHAPE
// The float16 forms of norm_yhat and norm_grad_in.
static inline float16 norm_yhat16(float16 v, int from_x, float mean, float rstd) { return from_x ? (v - mean) * rstd : v; }
static inline float16 norm_grad_in16(float16 g, float16 yh, int act, float slope) { return act ? select(slope * g, g, yh > 0.0f) : g; }
#endif

#ifdef CPU_SHAPE
// part[(plane*chunks + k)*2 + {0,1}] = (sum g, sum g*yh) over chunk k (yh, g as in
// instance_norm_backward).
__kernel void instance_norm_chunk_grad_sums(__global const act_t* v, __global const act_t* gy,
                                            __global const float* mean, __global const float* rstd, __global float* part,
                                            int HW, int chunk, int from_x, int act, float slope) {
    int k = get_global_id(0), plane = get_global_id(1);
    int chunks = (HW + chunk - 1) / chunk;
    if (k >= chunks) return;
    int i0 = k * chunk, i1 = min(HW, i0 + chunk);
    __global const act_t* vp = v + (size_t)plane * HW;
    __global const act_t* gp = gy + (size_t)plane * HW;
    float m = mean[plane], r = rstd[plane];
    int iv = i0 + (i1 - i0) / 16 * 16;
    float16 av = (float16)(0.0f), bv = (float16)(0.0f);
    for (int i = i0; i < iv; i += 16) {
        float16 yh = norm_yhat16(LD16(vp + i), from_x, m, r), g = norm_grad_in16(LD16(gp + i), yh, act, slope);
        av += g; bv += g * yh;
    }
    float a = hsum16(av), b = hsum16(bv);
    for (int i = iv; i < i1; i++) {
        float yh = norm_yhat(LD(vp, i), from_x, m, r), g = norm_grad_in(LD(gp, i), yh, act, slope);
        a += g; b += g * yh;
    }
    part[((size_t)plane * chunks + k) * 2] = a;
    part[((size_t)plane * chunks + k) * 2 + 1] = b;
}
#endif

#ifdef CPU_SHAPE
// gx = rstd * (g - mean(g) - yh * mean(g*yh)); the chunk sums are added in order here
// (per work-item, the same order for every chunk of a plane).
__kernel void instance_norm_apply_grad(__global const act_t* v, __global const act_t* gy, __global const float* part,
                                       __global const float* mean, __global const float* rstd, __global act_t* gx,
                                       int HW, int chunk, int from_x, int act, float slope) {
    int k = get_global_id(0), plane = get_global_id(1);
    int chunks = (HW + chunk - 1) / chunk;
    int i0 = k * chunk, i1 = min(HW, i0 + chunk);
    if (i0 >= HW) return;
    float a = 0.0f, b = 0.0f;
    for (int j = 0; j < chunks; j++) {
        a += part[((size_t)plane * chunks + j) * 2];
        b += part[((size_t)plane * chunks + j) * 2 + 1];
    }
    float mean_gy = a / HW, mean_gyy = b / HW, m = mean[plane], r = rstd[plane];
    __global const act_t* vp = v + (size_t)plane * HW;
    __global const act_t* gp = gy + (size_t)plane * HW;
    __global act_t* out = gx + (size_t)plane * HW;
    int iv = i0 + (i1 - i0) / 16 * 16;
    for (int i = i0; i < iv; i += 16) {
        float16 yh = norm_yhat16(LD16(vp + i), from_x, m, r), g = norm_grad_in16(LD16(gp + i), yh, act, slope);
        ST16(r * (g - mean_gy - yh * mean_gyy), out + i);
    }
    for (int i = iv; i < i1; i++) {
        float yh = norm_yhat(LD(vp, i), from_x, m, r), g = norm_grad_in(LD(gp, i), yh, act, slope);
        ST(out, i, r * (g - mean_gy - yh * mean_gyy));
    }
}
#endif
