// adam.cl: one fused, in-place Adam step, PyTorch's rule (torch.optim.Adam,
// single-tensor path). The host computes the bias corrections in double, as PyTorch does:
// step_size = lr / (1 - beta1^t), bc2_sqrt = sqrt(1 - beta2^t).
// Mirrors Sources/CycleGAN/Backend/CPU/CPUAdam.swift.
__kernel void adam_step(__global float* p, __global const float* g,
                        __global float* m, __global float* v,
                        float beta1, float beta2, float eps, float step_size, float bc2_sqrt,
                        int n) {
    int i = get_global_id(0);
    if (i >= n) return;
    float gi = g[i];
    // m.lerp_(g, 1 - beta1): torch's lerp takes the second form when weight >= 0.5
    float w = 1.0f - beta1;
    float mi = w < 0.5f ? m[i] + w * (gi - m[i]) : gi - (gi - m[i]) * (1.0f - w);
    float vi = v[i] * beta2 + (1.0f - beta2) * gi * gi;
    float denom = sqrt(vi) / bc2_sqrt + eps;
    m[i] = mi;
    v[i] = vi;
    p[i] = p[i] - step_size * (mi / denom);
}

// The loss scaler's unscale and check (torch._amp_foreach_non_finite_check_and_unscale_):
// found[0] = 1 when any g is inf or NaN (atomically, so that concurrent finds do not race;
// found is left alone otherwise), and g *= inv_scale. Global (n).
__kernel void unscale_check(__global float* g, int n, float inv_scale, volatile __global float* found) {
    int i = get_global_id(0);
    if (i >= n) return;
    float v = g[i];
    if (!isfinite(v)) atomic_xchg(found, 1.0f);
    g[i] = v * inv_scale;
}
