// random.cl: seeded, counter-based random numbers: element i of a draw depends only
// on (seed, i), so every backend and every work-group size gives the same numbers.
// Mirrors Sources/CycleGAN/Backend/CPU/CPURandom.swift.

// splitmix64 finaliser of (seed, counter).
static inline ulong mix64(ulong seed, ulong counter) {
    ulong z = seed + (counter + 1) * 0x9E3779B97F4A7C15UL;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
    return z ^ (z >> 31);
}

// Uniform in (0, 1): the top 24 bits, offset by half a step so 0 never occurs.
static inline float uniform01(ulong seed, ulong counter) {
    return ((float)(mix64(seed, counter) >> 40) + 0.5f) * (1.0f / 16777216.0f);
}

__kernel void random_uniform(__global act_t* y, ulong seed, float low, float high, int n) {
    int i = get_global_id(0);
    if (i < n) ST(y, i, low + (high - low) * uniform01(seed, (ulong)i));
}

// Box-Muller on the pair of uniforms (2i, 2i+1); only the cosine branch is used.
__kernel void random_normal(__global act_t* y, ulong seed, float mean, float std, int n) {
    int i = get_global_id(0);
    if (i >= n) return;
    float u1 = uniform01(seed, 2 * (ulong)i);
    float u2 = uniform01(seed, 2 * (ulong)i + 1);
    float r = sqrt(-2.0f * log(u1));
    ST(y, i, mean + std * r * cos(6.283185307179586f * u2));
}

// Dropout: element i is kept iff uniform01(seed, i) >= p (so with probability 1 - p) and
// scaled by `scale` = 1/(1 - p); the backward draws the same mask from the same seed.
__kernel void dropout_forward(__global const act_t* x, __global act_t* y, ulong seed, float p, float scale, int n) {
    int i = get_global_id(0);
    if (i < n) ST(y, i, uniform01(seed, (ulong)i) >= p ? LD(x, i) * scale : 0.0f);
}

__kernel void dropout_backward(__global const act_t* gy, __global act_t* gx, ulong seed, float p, float scale, int n) {
    int i = get_global_id(0);
    if (i < n) ST(gx, i, uniform01(seed, (ulong)i) >= p ? LD(gy, i) * scale : 0.0f);
}
