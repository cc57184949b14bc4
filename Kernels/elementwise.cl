// elementwise.cl: activations and arithmetic, one work-item per element, global (n).
// Mirrors Sources/CycleGAN/Backend/CPU/CPUElementwise.swift (fill: CPUBackend.swift).

// LeakyReLU (ReLU is slope 0): y = x > 0 ? x : slope * x.
__kernel void leaky_relu_forward(__global const float* x, __global float* y, float slope, int n) {
    int i = get_global_id(0);
    if (i < n) y[i] = x[i] > 0.0f ? x[i] : slope * x[i];
}

// The gradient at exactly 0 takes the slope branch, as PyTorch's does.
__kernel void leaky_relu_backward(__global const float* x, __global const float* gy,
                                  __global float* gx, float slope, int n) {
    int i = get_global_id(0);
    if (i < n) gx[i] = x[i] > 0.0f ? gy[i] : slope * gy[i];
}

__kernel void tanh_forward(__global const float* x, __global float* y, int n) {
    int i = get_global_id(0);
    if (i < n) y[i] = tanh(x[i]);
}

// Written in terms of the output: d tanh(x)/dx = 1 - y^2.
__kernel void tanh_backward(__global const float* y, __global const float* gy,
                            __global float* gx, int n) {
    int i = get_global_id(0);
    if (i < n) gx[i] = gy[i] * (1.0f - y[i] * y[i]);
}

// out = alpha * a + beta * b (add: 1, 1; sub: 1, -1; scale: beta 0 with b = a).
__kernel void add_scaled(__global const float* a, __global const float* b, __global float* out,
                         float alpha, float beta, int n) {
    int i = get_global_id(0);
    if (i < n) out[i] = alpha * a[i] + beta * b[i];
}

// y += alpha * x: gradient accumulation.
__kernel void axpy(__global const float* x, __global float* y, float alpha, int n) {
    int i = get_global_id(0);
    if (i < n) y[i] += alpha * x[i];
}

__kernel void fill(__global float* y, float value, int n) {
    int i = get_global_id(0);
    if (i < n) y[i] = value;
}
