// reduce.cl: sums and the loss reductions, in two stages with a fixed tree
// (deterministic, and far more accurate than one long serial float sum).
// Stage 1: each work-group reduces a strided slice of the terms into partial[group].
// Stage 2: reduce_final, one work-group, sums the partials and scales.
// Mirrors Sources/CycleGAN/Backend/CPU/CPUReduce.swift.

// tree_sum is in common.cl, prepended to every program.

// One stage-1 kernel per kind of term; TERM(i) is the i-th term.
#define PARTIAL_KERNEL(name, params, TERM)                                          \
__kernel void name params {                                                         \
    int gid = get_global_id(0), gs = get_global_size(0);                            \
    float acc = 0.0f;                                                               \
    for (int i = gid; i < n; i += gs) acc += TERM;                                  \
    float total = tree_sum(acc, scratch);                                           \
    if (get_local_id(0) == 0) partial[get_group_id(0)] = total;                     \
}

// sum of x
PARTIAL_KERNEL(sum_partial,
    (__global const float* x, int n, __global float* partial, __local float* scratch),
    x[i])
// (x - target)^2: least-squares GAN loss against a constant label
PARTIAL_KERNEL(mse_partial,
    (__global const float* x, float target, int n, __global float* partial, __local float* scratch),
    (x[i] - target) * (x[i] - target))
// |x - t|: L1 between two tensors (cycle and identity losses)
PARTIAL_KERNEL(l1_partial,
    (__global const float* x, __global const float* t, int n, __global float* partial, __local float* scratch),
    fabs(x[i] - t[i]))
// max(x, 0) - x*target + log(1 + exp(-|x|)): binary cross-entropy with logits
PARTIAL_KERNEL(bce_logits_partial,
    (__global const float* x, float target, int n, __global float* partial, __local float* scratch),
    fmax(x[i], 0.0f) - x[i] * target + log1p(exp(-fabs(x[i]))))

// out[0] = scale * sum(partial[0..m)); run as a single work-group.
__kernel void reduce_final(__global const float* partial, int m, float scale,
                           __global float* out, __local float* scratch) {
    int lid = get_local_id(0), ls = get_local_size(0);
    float acc = 0.0f;
    for (int i = lid; i < m; i += ls) acc += partial[i];
    float total = tree_sum(acc, scratch);
    if (lid == 0) out[0] = scale * total;
}
