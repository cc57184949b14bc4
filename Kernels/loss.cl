// loss.cl: gradients of the mean losses; gy is the upstream scalar gradient (a
// one-element buffer, so no value returns to the host). Forward values come from
// reduce.cl. Mirrors Sources/CycleGAN/Backend/CPU/CPULoss.swift.

// d/dx mean((x - target)^2) = 2 (x - target) / n
__kernel void mse_backward(__global const float* x, float target, __global const float* gy,
                           __global float* gx, int n) {
    int i = get_global_id(0);
    if (i < n) gx[i] = gy[0] * 2.0f * (x[i] - target) / n;
}

// d/dx mean|x - t| = sign(x - t) / n (0 where equal, as PyTorch); d/dt is its negation.
__kernel void l1_backward(__global const float* x, __global const float* t, __global const float* gy,
                          __global float* gx, __global float* gt, int has_gt, int n) {
    int i = get_global_id(0);
    if (i >= n) return;
    float d = x[i] - t[i];
    float s = d > 0.0f ? 1.0f : (d < 0.0f ? -1.0f : 0.0f);
    float g = gy[0] * s / n;
    gx[i] = g;
    if (has_gt) gt[i] = -g;
}

// d/dx mean(bce_with_logits(x, target)) = (sigmoid(x) - target) / n
__kernel void bce_logits_backward(__global const float* x, float target, __global const float* gy,
                                  __global float* gx, int n) {
    int i = get_global_id(0);
    if (i < n) gx[i] = gy[0] * (1.0f / (1.0f + exp(-x[i])) - target) / n;
}
