/* refsuite's fused conv→max-pool→ReLU hot path on the CPU.
 *
 * Forward, every 2×2 window is pooled, ReLU applied, and which of the four positions won is kept
 * (max_pool2d's rule: the first maximum in raster order). For inputs with few channels (the
 * tutorial's RGB conv1) conv_pool_relu_forward computes the convolution too, two output rows at
 * a time in vector registers, and pools them before they ever reach memory; other layers use
 * torch's (oneDNN's) convolution and pool_relu_forward.
 *
 * Backward, a window's gradient reaches only its winner, and ReLU's mask removes some more, so the
 * weight and input gradients are sums over the surviving (window, channel) pairs only. All tensors
 * are contiguous NCHW float32 ("which" is int8: 0..3 in raster order).
 *
 * The exported functions trust their arguments; c_kernels.py validates every call (shapes, dtypes,
 * contiguity, channel limits) before it passes pointers here. The region kernels still refuse a
 * channel count whose region would not fit their stack buffer.
 *
 * Threads: OpenMP. Built with -fopenmp, this library resolves libgomp.so.1 to the copy torch has
 * already loaded, so its parallel loops run on torch's own intra-op threads (same count, no
 * second pool spinning against the first).
 *
 * The trick that makes the sums vectorise: every winner's 5×5 patch lies inside its window's
 * 6×6 input region. A pair adds gradient × (the whole C×6×6 region) to an accumulator kept per
 * (output channel, winning position); the 5×5 patches are cut out of those accumulators once at
 * the end. That is 6×6/5×5 = 1.44× the multiply-adds of the patch, in long contiguous runs.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define R 6 /* region side: a 2×2 window of 5×5 patches */
#define INLINE static inline __attribute__((always_inline))
#define MAX_CHANNELS 24
#define REGION_MAX (MAX_CHANNELS * R * R) /* one window's C×6×6 input region, on the stack */

/* floats per region, rounded up to whole 64-byte vectors; the padding stays zero */
int64_t region_floats(int64_t C) { return (C * R * R + 15) / 16 * 16; }

typedef float v8 __attribute__((vector_size(32))); /* GCC/Clang vectors: AVX2, NEON or scalar code */

INLINE v8 load8(const float *p) {
    v8 v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* Pool one pair of convolution rows: branch-free (the winner is data, and random data defeats
 * branch prediction) and in the order max_pool2d scans, a later value winning only if strictly
 * greater. */
INLINE void pool_pair(const float *top, const float *bot, int64_t PW, float *y, int8_t *which) {
    /* Winners are worked out as 32-bit lanes beside the floats, then narrowed in a second loop:
     * storing int8 from the float loop kept it from vectorising (measured 5-7 % slower). */
    int32_t won[32];
    for (int64_t start = 0; start < PW; start += 32) {
        const int64_t n = PW - start < 32 ? PW - start : 32;
        const float *t = top + 2 * start, *u = bot + 2 * start;
        for (int64_t px = 0; px < n; px++) {
            const float a = t[2 * px], b = t[2 * px + 1], c = u[2 * px], d = u[2 * px + 1];
            const int right_top = b > a, right_bot = d > c;
            const float upper = right_top ? b : a, lower = right_bot ? d : c;
            const int down = lower > upper;
            const float best = down ? lower : upper;
            y[start + px] = best > 0.0f ? best : 0.0f;
            won[px] = down ? 2 + right_bot : right_top;
        }
        for (int64_t px = 0; px < n; px++) which[start + px] = (int8_t)won[px];
    }
}

/* One image: for each output channel and pooled row, the two convolution rows live in NV vectors
 * of 8 columns each (the last vector ends at the row's end, overlapping its neighbour). */
INLINE void conv_pool_image(const float *x, const float *w, const float *bias, int64_t b, const int64_t C,
                            int64_t H, int64_t W, int64_t K, const int64_t NV, float *y, int8_t *which) {
    const int64_t OW = W - 4, PH = (H - 4) / 2, PW = OW / 2;
    int64_t start[4];
    for (int64_t v = 0; v < NV; v++) start[v] = v < NV - 1 ? 8 * v : OW - 8;
    for (int64_t k = 0; k < K; k++)
        for (int64_t py = 0; py < PH; py++) {
            v8 top[4], bot[4];
            for (int64_t v = 0; v < NV; v++) top[v] = bot[v] = (v8){0} + bias[k];
            for (int64_t c = 0; c < C; c++) {
                const float *in = x + ((b * C + c) * H + 2 * py) * W, *taps = w + (k * C + c) * 25;
                for (int64_t kh = 0; kh < 5; kh++)
                    for (int64_t kw = 0; kw < 5; kw++) {
                        const float tap = taps[kh * 5 + kw];
                        const float *r0 = in + kh * W + kw, *r1 = r0 + W;
                        for (int64_t v = 0; v < NV; v++) {
                            top[v] += tap * load8(r0 + start[v]);
                            bot[v] += tap * load8(r1 + start[v]);
                        }
                    }
            }
            float t[32], u[32];
            for (int64_t v = 0; v < NV; v++) {
                memcpy(t + start[v], &top[v], sizeof top[v]);
                memcpy(u + start[v], &bot[v], sizeof bot[v]);
            }
            const int64_t o = ((b * K + k) * PH + py) * PW;
            pool_pair(t, u, PW, y + o, which + o);
        }
}

/* relu(max_pool2d(conv2d(x, w, bias), 2)) for 5×5 kernels and convolution rows 8 to 32 wide
 * (c_kernels.py checks both). */
void conv_pool_relu_forward(const float *x, const float *w, const float *bias, int64_t B, int64_t C, int64_t H,
                            int64_t W, int64_t K, float *y, int8_t *which) {
    const int64_t NV = (W - 4 + 7) / 8;
#pragma omp parallel for schedule(static)
    for (int64_t b = 0; b < B; b++) {
        if (C == 3 && NV == 4) /* the tutorial's conv1: constants let the compiler unroll */
            conv_pool_image(x, w, bias, b, 3, H, W, K, 4, y, which);
        else
            conv_pool_image(x, w, bias, b, C, H, W, K, NV, y, which);
    }
}

void pool_relu_forward(const float *conv, int64_t B, int64_t K, int64_t OH, int64_t OW, float *y, int8_t *which) {
    const int64_t PH = OH / 2, PW = OW / 2;
#pragma omp parallel for schedule(static)
    for (int64_t row = 0; row < B * K * PH; row++) { /* one pooled row of one channel */
        const float *top = conv + ((row / PH) * OH + 2 * (row % PH)) * OW;
        if (PW == 5) /* the tutorial's conv2: a constant width unrolls the short row */
            pool_pair(top, top + OW, 5, y + row * PW, which + row * PW);
        else
            pool_pair(top, top + OW, PW, y + row * PW, which + row * PW);
    }
}

/* One image's pairs into acc (K × 4 × region_floats(C)). C is a constant after inlining, so the
 * region loops compile to whole-vector code. */
INLINE void weight_grad_image(const float *x, int64_t b, const int64_t C, int64_t H, int64_t W, const float *gy,
                              const float *y, const int8_t *which, int64_t K, int64_t PH, int64_t PW, float *acc,
                              float *db) {
    const int64_t n = (C * R * R + 15) / 16 * 16;
    float region[REGION_MAX] __attribute__((aligned(64)));
    memset(region, 0, n * sizeof(float));
    for (int64_t py = 0; py < PH; py++) {
        for (int64_t px = 0; px < PW; px++) {
            const int64_t p = py * PW + px;
            for (int64_t c = 0; c < C; c++)
                for (int64_t r = 0; r < R; r++)
                    memcpy(region + (c * R + r) * R, x + ((b * C + c) * H + 2 * py + r) * W + 2 * px,
                           R * sizeof(float));
            for (int64_t k = 0; k < K; k++) {
                const int64_t o = (b * K + k) * PH * PW + p;
                const float g = y[o] > 0.0f ? gy[o] : 0.0f; /* ReLU's mask */
                if (g == 0.0f) continue;
                db[k] += g;
                float *a = acc + (k * 4 + (which[o] & 3)) * n; /* & 3: never outside the four positions */
                for (int64_t i = 0; i < n; i++) a[i] += g * region[i];
            }
        }
    }
}

/* acc: K × 4 × region_floats(C) and db: K, zeroed by the caller; cut_patches turns acc into the
 * weight gradient, db is the bias gradient. Returns 0; -1 when a thread could not allocate its
 * accumulators (the sums are then incomplete); -2 for more than MAX_CHANNELS channels. */
int weight_grad_regions(const float *x, int64_t B, int64_t C, int64_t H, int64_t W, const float *gy,
                        const float *y, const int8_t *which, int64_t K, int64_t PH, int64_t PW, float *acc,
                        float *db) {
    if (C < 1 || C > MAX_CHANNELS) return -2;
    const int64_t size = K * 4 * region_floats(C) + K; /* a thread's acc, then its db */
    int failed = 0;
#pragma omp parallel
    {
        float *mine = calloc(size, sizeof(float)); /* each thread sums its images, then adds once */
        if (mine == NULL) {
#pragma omp atomic write
            failed = 1;
        }
#pragma omp barrier
#pragma omp for schedule(static)
        for (int64_t b = 0; b < B; b++) {
            if (failed) continue;
            switch (C) { /* the tutorial's two layers get code specialised for their channel count */
            case 3: weight_grad_image(x, b, 3, H, W, gy, y, which, K, PH, PW, mine, mine + size - K); break;
            case 6: weight_grad_image(x, b, 6, H, W, gy, y, which, K, PH, PW, mine, mine + size - K); break;
            default: weight_grad_image(x, b, C, H, W, gy, y, which, K, PH, PW, mine, mine + size - K);
            }
        }
        if (!failed) {
#pragma omp critical
            {
                for (int64_t i = 0; i < size - K; i++) acc[i] += mine[i];
                for (int64_t k = 0; k < K; k++) db[k] += mine[size - K + k];
            }
        }
        free(mine);
    }
    return failed ? -1 : 0;
}

/* dw[k][c][kh][kw] = Σ over winning positions w of acc[k][w][c][wy + kh][wx + kw] */
void cut_patches(const float *acc, int64_t K, int64_t C, float *dw) {
    const int64_t n = region_floats(C);
    for (int64_t k = 0; k < K; k++)
        for (int64_t c = 0; c < C; c++)
            for (int64_t kh = 0; kh < 5; kh++)
                for (int64_t kw = 0; kw < 5; kw++) {
                    float s = 0.0f;
                    for (int64_t w = 0; w < 4; w++)
                        s += acc[(k * 4 + w) * n + (c * R + kh + w / 2) * R + kw + w % 2];
                    dw[((k * C + c) * 5 + kh) * 5 + kw] = s;
                }
}

/* The input gradient: each pair adds gradient × its channel's 5×5 kernel, placed at the winner
 * inside the window's 6×6 region (shifted: K × 4 × region_floats(C), from shift_kernels). dx is
 * zeroed by the caller; neighbouring windows' regions overlap, so one thread owns each image. */
INLINE void input_grad_image(const float *shifted, int64_t b, const int64_t C, int64_t H, int64_t W,
                             const float *gy, const float *y, const int8_t *which, int64_t K, int64_t PH,
                             int64_t PW, float *dx) {
    const int64_t n = (C * R * R + 15) / 16 * 16;
    float region[REGION_MAX] __attribute__((aligned(64)));
    for (int64_t py = 0; py < PH; py++) {
        for (int64_t px = 0; px < PW; px++) {
            const int64_t p = py * PW + px;
            memset(region, 0, n * sizeof(float));
            for (int64_t k = 0; k < K; k++) {
                const int64_t o = (b * K + k) * PH * PW + p;
                const float g = y[o] > 0.0f ? gy[o] : 0.0f;
                if (g == 0.0f) continue;
                const float *s = shifted + (k * 4 + (which[o] & 3)) * n; /* & 3: never outside the four positions */
                for (int64_t i = 0; i < n; i++) region[i] += g * s[i];
            }
            for (int64_t c = 0; c < C; c++)
                for (int64_t r = 0; r < R; r++) {
                    float *d = dx + ((b * C + c) * H + 2 * py + r) * W + 2 * px;
                    const float *s = region + (c * R + r) * R;
                    for (int64_t i = 0; i < R; i++) d[i] += s[i];
                }
        }
    }
}

/* Returns 0, or -2 for more than MAX_CHANNELS channels. */
int input_grad_regions(const float *shifted, int64_t B, int64_t C, int64_t H, int64_t W, const float *gy,
                       const float *y, const int8_t *which, int64_t K, int64_t PH, int64_t PW, float *dx) {
    if (C < 1 || C > MAX_CHANNELS) return -2;
#pragma omp parallel for schedule(static)
    for (int64_t b = 0; b < B; b++)
        input_grad_image(shifted, b, C, H, W, gy, y, which, K, PH, PW, dx); /* specialising C measured slower */
    return 0;
}

void shift_kernels(const float *w, int64_t K, int64_t C, float *shifted) {
    const int64_t n = region_floats(C);
    memset(shifted, 0, K * 4 * n * sizeof(float));
    for (int64_t k = 0; k < K; k++)
        for (int64_t v = 0; v < 4; v++)
            for (int64_t c = 0; c < C; c++)
                for (int64_t kh = 0; kh < 5; kh++)
                    for (int64_t kw = 0; kw < 5; kw++)
                        shifted[(k * 4 + v) * n + (c * R + kh + v / 2) * R + kw + v % 2] =
                            w[((k * C + c) * 5 + kh) * 5 + kw];
}
