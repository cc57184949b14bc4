/// The argument list of every kernel, as the kernel declares it (`KernelArgument.parse`):
/// `global` buffers with their element type (`act_t`: float, or FP16 storage in the programs
/// built with -DACT_HALF) and `const` where the kernel only reads them, `local` scratch, and
/// the scalars `int`, `float`, `ulong`. Checked against each compiled kernel: the count
/// (CL_KERNEL_NUM_ARGS) when a backend is made, on every device; the address qualifiers,
/// type names and names (clGetKernelArgInfo, `-cl-kernel-arg-info`) by `KernelTableTests` on
/// PoCL; and each launch's arguments in debug builds.
extension KernelTable {
    static let signatures: [String: String] = [
        // adam.cl
        "adam_step": "global float* p, global const float* g, global float* m, global float* v, float beta1, float beta2, "
            + "float eps, float step_size, float bc2_sqrt, int n",
        "unscale_check": "global float* g, int n, float inv_scale, global float* found",
        // batch_norm.cl
        "batch_norm_stats": "global const act_t* x, global float* mean_out, global float* rstd_out, "
            + "global float* running_mean, global float* running_var, int N, int C, int HW, float eps, float momentum, "
            + "int update, local float* scratch",
        "batch_norm_eval_stats": "global const float* running_mean, global const float* running_var, global float* mean_out, "
            + "global float* rstd_out, int C, float eps",
        "batch_norm_apply": "global const act_t* x, global act_t* y, global const float* mean, global const float* rstd, "
            + "global const float* weight, global const float* bias, int C, int HW, int count",
        "batch_norm_backward_sums": "global const act_t* x, global const act_t* gy, global const float* mean, "
            + "global const float* rstd, global float* gweight, global float* gbias, int N, int C, int HW, "
            + "local float* scratch",
        "batch_norm_backward_apply": "global const act_t* x, global const act_t* gy, global const float* mean, "
            + "global const float* rstd, global const float* weight, global const float* gweight, global const float* gbias, "
            + "global act_t* gx, int N, int C, int HW, int training, int count",
        // bench.cl
        "fma_peak_8": "global float* out, float a, float b, int iters, int n",
        "fma_peak_12": "global float* out, float a, float b, int iters, int n",
        "fma_peak_16": "global float* out, float a, float b, int iters, int n",
        "copy_bandwidth": "global const float4* src, global float4* dst, int n4",
        // conv2d.cl
        "conv2d_forward": "global const act_t* x, global const float* w, global const float* b, int has_bias, "
            + "global act_t* y, int N, int C, int H, int W, int K, int OH, int OW, int KH, int KW, int stride, int pad, "
            + "int reflect",
        "conv2d_backward_data": "global const act_t* gy, global const float* w, global act_t* gx, int N, int C, int H, int W, "
            + "int K, int OH, int OW, int KH, int KW, int stride, int pad, int reflect",
        "conv2d_backward_weight": "global const act_t* x, global const act_t* gy, global float* gw, int N, int C, int H, "
            + "int W, int K, int OH, int OW, int KH, int KW, int stride, int pad, int reflect",
        "channel_sum": "global const act_t* gy, global float* out, int N, int C, int HW, local float* scratch",
        "add_channel_bias": "global act_t* y, global const float* b, int C, int HW",
        "pad_phases_rows": "global const act_t* x, int x_off, global float* xp, int C, int H, int W, int pad_y, int pad_x, "
            + "int reflect, int stride, int row0, int Hq, int ldx",
        "pad_phases": "global const act_t* x, int x_off, global float* xp, int C, int H, int W, int pad_y, int pad_x, "
            + "int reflect, int stride, int row0, int Hq, int ldx",
        "zero_tail": "global float* xp, int offset, int n",
        "conv2d_s1": "global const float* A, global const float* xp, int xp_off, global const int* roff, global act_t* y, "
            + "int y_off, int M, int Rows, int OH, int OW, int ldx, global const float* bias, int has_bias, int ld_out, "
            + "int ld_plane, int row_stride",
        "conv2d_s1_tiled": "global const float* A, global const float* xp, int xp_off, global const int* roff, "
            + "global act_t* y, int y_off, int M, int Rows, int OH, int OW, int ldx, global const float* bias, int has_bias, "
            + "int ld_out, int ld_plane",
        "pack_flipped_weight": "global const float* w, global float* dst, int K, int C, int KH, int KW, int stride, int a, int b",
        "unpad_fold": "global const float* gxq, global act_t* gx, int gx_off, int C, int H, int W, int pad, int reflect, "
            + "int stride, int Hq, int ldq, int iy0, int prow0, int nrows",
        "unpad_fold_elem": "global const float* gxq, global act_t* gx, int gx_off, int C, int H, int W, int pad, int reflect, "
            + "int stride, int Hq, int ldq, int iy0, int prow0, int nrows",
        "pack_flat_cols": "global const act_t* gy, int gy_off, global float* dst, int M, int OH, int OW, int ldx",
        "conv2d_s1_wgrad": "global const float* xp, global const int* roff, global const float* gyp, global float* partial, "
            + "int Rows, int M, int Q, int q_chunk, int accumulate",
        "conv2d_s1_wgrad_tiled": "global const float* xp, global const int* roff, global const float* gyp, "
            + "global float* partial, int Rows, int M, int Q, int q_chunk, int accumulate",
        "pack_flat_cols_elem": "global const act_t* gy, int gy_off, global float* dst, int M, int OH, int OW, int ldx",
        // elementwise.cl
        "leaky_relu_forward": "global const act_t* x, global act_t* y, float slope, int n",
        "leaky_relu_backward": "global const act_t* x, global const act_t* gy, global act_t* gx, float slope, int n",
        "tanh_forward": "global const act_t* x, global act_t* y, int n",
        "tanh_backward": "global const act_t* y, global const act_t* gy, global act_t* gx, int n",
        "add_scaled": "global const act_t* a, global const act_t* b, global act_t* out, float alpha, float beta, int n",
        "axpy": "global const act_t* x, global act_t* y, float alpha, int n",
        "fill": "global act_t* y, float value, int n",
        "cast_float_to_half": "global const float* x, global half* y, int n",
        "cast_half_to_float": "global const half* x, global float* y, int n",
        // gemm.cl
        "gemm_packed": "global const float* A, int a_batch, global const float* B, int b_off, int b_batch, global float* C, "
            + "int c_off, int c_batch, int M, int N, int R, int ldc, int r_chunk, int splits, global const float* bias, "
            + "int has_bias",
        "gemm_tiled": "global const float* A, int a_batch, global const float* B, int b_off, int b_batch, global float* C, "
            + "int c_off, int c_batch, int M, int N, int R, int ldc, int r_chunk, int splits, global const float* bias, "
            + "int has_bias",
        "reduce_partials": "global const float* partial, int splits, int count, global float* out, int out_off, int accumulate",
        "pack_rows": "global const float* src, int src_off, global float* dst, int P, int R, int T",
        "pack_cols": "global const float* src, int src_off, global float* dst, int P, int R, int T",
        // instance_norm.cl
        "instance_norm_forward": "global const act_t* x, global act_t* y, global float* mean_out, global float* rstd_out, "
            + "int HW, float eps, int act, float slope, global const act_t* res, int has_res, local float* scratch",
        "instance_norm_backward": "global const act_t* v, global const act_t* gy, global const float* mean, "
            + "global const float* rstd, global act_t* gx, int HW, int from_x, int act, float slope, local float* scratch",
        "instance_norm_chunk_stats_wg": "global const act_t* x, global float* part, int HW, int chunk, local float* scratch",
        "instance_norm_apply_elem": "global const act_t* x, global act_t* y, global const float* mean, "
            + "global const float* rstd, int HW, int act, float slope, global const act_t* res, int has_res",
        "instance_norm_chunk_grad_sums_wg": "global const act_t* v, global const act_t* gy, global const float* mean, "
            + "global const float* rstd, global float* part, int HW, int chunk, int from_x, int act, float slope, "
            + "local float* scratch",
        "instance_norm_merge_grad": "global const float* part, global float* stats, int planes, int HW, int chunk",
        "instance_norm_apply_grad_elem": "global const act_t* v, global const act_t* gy, global const float* stats, "
            + "global const float* mean, global const float* rstd, global act_t* gx, int HW, int from_x, int act, float slope",
        "instance_norm_chunk_stats": "global const act_t* x, global float* part, int HW, int chunk",
        "instance_norm_merge": "global const float* part, global float* mean_out, global float* rstd_out, int planes, int HW, "
            + "int chunk, float eps",
        "instance_norm_apply": "global const act_t* x, global act_t* y, global const float* mean, global const float* rstd, "
            + "int HW, int chunk, int act, float slope, global const act_t* res, int has_res",
        "instance_norm_chunk_grad_sums": "global const act_t* v, global const act_t* gy, global const float* mean, "
            + "global const float* rstd, global float* part, int HW, int chunk, int from_x, int act, float slope",
        "instance_norm_apply_grad": "global const act_t* v, global const act_t* gy, global const float* part, "
            + "global const float* mean, global const float* rstd, global act_t* gx, int HW, int chunk, int from_x, int act, "
            + "float slope",
        // loss.cl
        "mse_backward": "global const float* x, float target, global const float* gy, global float* gx, int n",
        "l1_backward": "global const float* x, global const float* t, global const float* gy, global float* gx, "
            + "global float* gt, int has_gt, int n",
        "bce_logits_backward": "global const float* x, float target, global const float* gy, global float* gx, int n",
        // random.cl
        "random_uniform": "global act_t* y, ulong seed, float low, float high, int n",
        "random_normal": "global act_t* y, ulong seed, float mean, float std, int n",
        "dropout_forward": "global const act_t* x, global act_t* y, ulong seed, float p, float scale, int n",
        "dropout_backward": "global const act_t* gy, global act_t* gx, ulong seed, float p, float scale, int n",
        // reduce.cl
        "sum_partial": "global const float* x, int n, global float* partial, local float* scratch",
        "mse_partial": "global const float* x, float target, int n, global float* partial, local float* scratch",
        "l1_partial": "global const float* x, global const float* t, int n, global float* partial, local float* scratch",
        "bce_logits_partial": "global const float* x, float target, int n, global float* partial, local float* scratch",
        "reduce_final": "global const float* partial, int m, float scale, global float* out, local float* scratch",
        // winograd.cl
        "winograd_weight": "global const float* w, global float* u, int u_stride, int M, int C, int flip, int c_chunk",
        "winograd_input": "global const act_t* x, int x_off, global float* v, int v_stride, int C, int H, int W, int pad, "
            + "int reflect, int tiles_x, int tiles, int ty0",
        "winograd_output": "global const float* mo, int mo_stride, global act_t* y, int y_off, int M, int tiles, int tiles_x, "
            + "int OH, int OW, int ld_out, global const float* bias, int has_bias, int ty0",
        "winograd_input_tile": "global const act_t* x, int x_off, global float* v, int v_stride, int C, int H, int W, "
            + "int pad, int reflect, int tiles_x, int tiles, int ty0, int channel_lanes",
        "winograd_output_tile": "global const float* mo, int mo_stride, global act_t* y, int y_off, int M, int tiles, "
            + "int tiles_x, int OH, int OW, int ld_out, global const float* bias, int has_bias, int ty0",
        "winograd_gy_wgrad": "global const act_t* gy, int gy_off, global float* g, int g_stride, int M, int OH, int OW, "
            + "int tiles_x, int tiles, int ty0",
        "winograd_weight_grad": "global const float* du, int du_stride, int splits, global float* gw, int M, int C, "
            + "int accumulate",
        "winograd_input_wgrad_rows": "global const act_t* x, int x_off, global float* v, int v_stride, int C, int H, int W, "
            + "int pad, int reflect, int tiles_x, int tiles, int ty0",
        "winograd_gy_wgrad_rows": "global const act_t* gy, int gy_off, global float* g, int g_stride, int M, int OH, int OW, "
            + "int tiles_x, int tiles, int ty0",
        "winograd_weight_grad_lanes": "global const float* du, int du_stride, int splits, global float* gw, int M, int C, "
            + "int accumulate",
        "winograd_output_rows16": "global const float* mo, int mo_stride, global act_t* y, int y_off, int M, int tiles, "
            + "int tiles_x, int OH, int OW, int ld_out, global const float* bias, int has_bias, int ty0",
    ]
}
