// instance_norm.cl: instance normalisation over each (n, c) plane, no affine.
// Mirrors Sources/CycleGAN/Backend/CPU/CPUInstanceNorm.swift.
// One work-group per plane (global = planes * local); local size a power of 2.

// tree_sum (common.cl) reduces one value per work-item over the work-group.

// y = (x - mean) * rstd with biased variance; saves mean and rstd = 1/sqrt(var + eps).
// Two passes over the plane (mean, then squared deviations) for a sound variance.
__kernel void instance_norm_forward(__global const float* x, __global float* y,
                                    __global float* mean_out, __global float* rstd_out,
                                    int HW, float eps, __local float* scratch) {
    int plane = get_group_id(0), lid = get_local_id(0), ls = get_local_size(0);
    __global const float* xp = x + (size_t)plane * HW;
    __global float* yp = y + (size_t)plane * HW;
    float s = 0.0f;
    for (int i = lid; i < HW; i += ls) s += xp[i];
    float mean = tree_sum(s, scratch) / HW;
    float v = 0.0f;
    for (int i = lid; i < HW; i += ls) { float d = xp[i] - mean; v += d * d; }
    float var = tree_sum(v, scratch) / HW;
    float rstd = 1.0f / sqrt(var + eps);
    for (int i = lid; i < HW; i += ls) yp[i] = (xp[i] - mean) * rstd;
    if (lid == 0) { mean_out[plane] = mean; rstd_out[plane] = rstd; }
}

// gx = rstd * (gy - mean(gy) - y * mean(gy * y)), with y the normalised output.
__kernel void instance_norm_backward(__global const float* y, __global const float* gy,
                                     __global const float* rstd, __global float* gx,
                                     int HW, __local float* scratch) {
    int plane = get_group_id(0), lid = get_local_id(0), ls = get_local_size(0);
    __global const float* yp = y + (size_t)plane * HW;
    __global const float* gp = gy + (size_t)plane * HW;
    __global float* gxp = gx + (size_t)plane * HW;
    float a = 0.0f, b = 0.0f;
    for (int i = lid; i < HW; i += ls) { a += gp[i]; b += gp[i] * yp[i]; }
    float mean_gy = tree_sum(a, scratch) / HW;
    float mean_gyy = tree_sum(b, scratch) / HW;
    float r = rstd[plane];
    for (int i = lid; i < HW; i += ls) gxp[i] = r * (gp[i] - mean_gy - yp[i] * mean_gyy);
}
