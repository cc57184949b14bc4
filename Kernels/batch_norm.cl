// batch_norm.cl: batch normalisation of x[n][c][hw] (act_t, common.cl) per channel c, over its n planes of hw
// values (PyTorch's BatchNorm2d, affine). The reference is Sources/CycleGAN/Backend/CPU/
// CPUBatchNorm.swift. The two reductions run one work-group per channel (global = C *
// local, local a power of 2); the element-wise passes one work-item per element.
// tree_sum (common.cl) reduces one value per work-item over the work-group.

// Batch statistics of channel c over M = N*HW values: mean and rstd = 1/sqrt(var + eps)
// with the biased variance (two passes: mean, then squared deviations). With `update`, the
// running statistics move by `momentum` toward the batch's, the variance unbiased
// (var * M / (M - 1)), in PyTorch's expression order.
__kernel void batch_norm_stats(__global const act_t* x, __global float* mean_out, __global float* rstd_out,
                               __global float* running_mean, __global float* running_var,
                               int N, int C, int HW, float eps, float momentum, int update,
                               __local float* scratch) {
    int c = get_group_id(0), lid = get_local_id(0), ls = get_local_size(0);
    float s = 0.0f;
    for (int n = 0; n < N; n++) {
        __global const act_t* xp = x + ((size_t)n * C + c) * HW;
        for (int i = lid; i < HW; i += ls) s += LD(xp, i);
    }
    float M = (float)N * (float)HW;
    float mean = tree_sum(s, scratch) / M;
    float v = 0.0f;
    for (int n = 0; n < N; n++) {
        __global const act_t* xp = x + ((size_t)n * C + c) * HW;
        for (int i = lid; i < HW; i += ls) { float d = LD(xp, i) - mean; v += d * d; }
    }
    float var = tree_sum(v, scratch) / M;
    if (lid == 0) {
        mean_out[c] = mean;
        rstd_out[c] = 1.0f / sqrt(var + eps);
        if (update) {
            running_mean[c] = momentum * mean + (1.0f - momentum) * running_mean[c];
            running_var[c] = momentum * (var * M / (M - 1.0f)) + (1.0f - momentum) * running_var[c];
        }
    }
}

// Evaluation mode: the running statistics stand for the batch's (one work-item per channel).
__kernel void batch_norm_eval_stats(__global const float* running_mean, __global const float* running_var,
                                    __global float* mean_out, __global float* rstd_out, int C, float eps) {
    int c = get_global_id(0);
    if (c >= C) return;
    mean_out[c] = running_mean[c];
    rstd_out[c] = 1.0f / sqrt(running_var[c] + eps);
}

// y = (x - mean[c]) * rstd[c] * weight[c] + bias[c]; element i lies in channel (i / HW) % C.
__kernel void batch_norm_apply(__global const act_t* x, __global act_t* y, __global const float* mean,
                               __global const float* rstd, __global const float* weight, __global const float* bias,
                               int C, int HW, int count) {
    int i = get_global_id(0);
    if (i >= count) return;
    int c = (i / HW) % C;
    ST(y, i, (LD(x, i) - mean[c]) * rstd[c] * weight[c] + bias[c]);
}

// The affine parameters' gradients of channel c: gbias = sum(gy), gweight = sum(gy * xhat),
// xhat = (x - mean) * rstd recomputed as the forward computed it.
__kernel void batch_norm_backward_sums(__global const act_t* x, __global const act_t* gy,
                                       __global const float* mean, __global const float* rstd,
                                       __global float* gweight, __global float* gbias,
                                       int N, int C, int HW, __local float* scratch) {
    int c = get_group_id(0), lid = get_local_id(0), ls = get_local_size(0);
    float m = mean[c], r = rstd[c];
    float a = 0.0f, b = 0.0f;
    for (int n = 0; n < N; n++) {
        size_t base = ((size_t)n * C + c) * HW;
        for (int i = lid; i < HW; i += ls) { float g = LD(gy, base + i); a += g; b += g * ((LD(x, base + i) - m) * r); }
    }
    a = tree_sum(a, scratch);
    b = tree_sum(b, scratch);
    if (lid == 0) { gbias[c] = a; gweight[c] = b; }
}

// gx = weight * rstd * (gy - (gbias + xhat * gweight) / M) with batch statistics (training),
// weight * rstd * gy with running ones (the statistics are then constants).
__kernel void batch_norm_backward_apply(__global const act_t* x, __global const act_t* gy,
                                        __global const float* mean, __global const float* rstd,
                                        __global const float* weight, __global const float* gweight,
                                        __global const float* gbias, __global act_t* gx,
                                        int N, int C, int HW, int training, int count) {
    int i = get_global_id(0);
    if (i >= count) return;
    int c = (i / HW) % C;
    float scale = weight[c] * rstd[c];
    if (!training) { ST(gx, i, scale * LD(gy, i)); return; }
    float M = (float)N * (float)HW;
    float xhat = (LD(x, i) - mean[c]) * rstd[c];
    ST(gx, i, scale * (LD(gy, i) - (gbias[c] + xhat * gweight[c]) / M));
}
