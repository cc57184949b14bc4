// elementwise.cl: activations and arithmetic, one work-item per element, global (n), on
// act_t buffers (common.cl); the casts between FP32 and FP16 name their types.
// Mirrors Sources/CycleGAN/Backend/CPU/CPUElementwise.swift (fill: CPUBackend.swift).

// LeakyReLU (ReLU is slope 0): y = x > 0 ? x : slope * x.
__kernel void leaky_relu_forward(__global const act_t* x, __global act_t* y, float slope, int n) {
    int i = get_global_id(0);
    if (i >= n) return;
    float v = LD(x, i);
    ST(y, i, v > 0.0f ? v : slope * v);
}

// The gradient at exactly 0 takes the slope branch, as PyTorch's does.
__kernel void leaky_relu_backward(__global const act_t* x, __global const act_t* gy,
                                  __global act_t* gx, float slope, int n) {
    int i = get_global_id(0);
    if (i < n) ST(gx, i, LD(x, i) > 0.0f ? LD(gy, i) : slope * LD(gy, i));
}

__kernel void tanh_forward(__global const act_t* x, __global act_t* y, int n) {
    int i = get_global_id(0);
    if (i < n) ST(y, i, tanh(LD(x, i)));
}

// Written in terms of the output: d tanh(x)/dx = 1 - y^2.
__kernel void tanh_backward(__global const act_t* y, __global const act_t* gy,
                            __global act_t* gx, int n) {
    int i = get_global_id(0);
    if (i < n) ST(gx, i, LD(gy, i) * (1.0f - LD(y, i) * LD(y, i)));
}

// out = alpha * a + beta * b (add: 1, 1; sub: 1, -1; scale: beta 0 with b = a).
__kernel void add_scaled(__global const act_t* a, __global const act_t* b, __global act_t* out,
                         float alpha, float beta, int n) {
    int i = get_global_id(0);
    if (i < n) ST(out, i, alpha * LD(a, i) + beta * LD(b, i));
}

// y += alpha * x: gradient accumulation.
__kernel void axpy(__global const act_t* x, __global act_t* y, float alpha, int n) {
    int i = get_global_id(0);
    if (i < n) ST(y, i, LD(y, i) + (alpha * LD(x, i)));
}

__kernel void fill(__global act_t* y, float value, int n) {
    int i = get_global_id(0);
    if (i < n) ST(y, i, value);
}

// y = x converted: FP32 to FP16 rounds to nearest, ties to even (autocast's .half()).
__kernel void cast_float_to_half(__global const float* x, __global half* y, int n) {
    int i = get_global_id(0);
    if (i < n) vstore_half_rte(x[i], i, y);
}

__kernel void cast_half_to_float(__global const half* x, __global float* y, int n) {
    int i = get_global_id(0);
    if (i < n) y[i] = vload_half(i, x);
}
