/* fw_preprocess.c - bilinear resize (+ optional centre crop) and normalisation in one pass.
 *
 * The index/weight rule is PyTorch 1.13's CPU upsample_bilinear2d for float32 input
 * (aten/src/ATen/native/UpSample.h: area_pixel_compute_scale, area_pixel_compute_source_index;
 * cpu/UpSampleKernel.cpp: compute_source_index_and_lambda, 2-tap Interpolate). The scale is a
 * float, but the source position and the weight are computed in the CPU accumulate type
 * (double) and only the weight is rounded to float - verified against Debian's torch 1.13 by
 * extracting its weights (basis images): bit-identical weights, while computing the position
 * in float gives weight errors up to 5e-5 (0.01 grey level) on 1352-pixel rows:
 *   scale  = align_corners ? (out > 1 ? (float)(in - 1) / (out - 1) : 0) : (float)in / out
 *   src    = align_corners ? (double)scale * dst
 *                          : max(0, (double)scale * (dst + 0.5) - 0.5)
 *   i0     = min((int)src, in - 1);  i1 = i0 + (i0 < in - 1)
 *   l1     = (float)clamp(src - i0, 0, 1);  l0 = 1 - l1   (float)
 *   (when in == out: i0 = i1 = dst, l0 = 1, l1 = 0)
 *   value  = (p[y0][x0] * lx0 + p[y0][x1] * lx1) * ly0 + (p[y1][x0] * lx0 + p[y1][x1] * lx1) * ly1
 * The horizontal pass is computed once per needed source row (cached for the next output row),
 * then rows are blended and normalised straight into the output planes. */
#include "fw_preprocess.h"

#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct axis_tap {
    int i0, i1;   /* source indices */
    float l0, l1; /* weights */
} axis_tap;

/* Taps for output positions [first, first + n) of a resize from in to out. */
static void compute_taps(int in, int out, int align_corners, int first, int n, axis_tap *t)
{
    float scale;
    if (align_corners)
        scale = out > 1 ? (float)(in - 1) / (float)(out - 1) : 0.0f;
    else
        scale = (float)in / (float)out;
    for (int k = 0; k < n; k++) {
        int dst = first + k;
        if (in == out) {
            t[k].i0 = t[k].i1 = dst;
            t[k].l0 = 1.0f;
            t[k].l1 = 0.0f;
            continue;
        }
        double src;
        if (align_corners) {
            src = (double)scale * (double)dst;
        } else {
            src = (double)scale * ((double)dst + 0.5) - 0.5;
            if (src < 0.0)
                src = 0.0;
        }
        int i0 = (int)src;
        if (i0 > in - 1)
            i0 = in - 1;
        int i1 = i0 + (i0 < in - 1 ? 1 : 0);
        double l1d = src - (double)i0;
        if (l1d < 0.0)
            l1d = 0.0;
        if (l1d > 1.0)
            l1d = 1.0;
        float l1 = (float)l1d;
        t[k].i0 = i0;
        t[k].i1 = i1;
        t[k].l0 = 1.0f - l1;
        t[k].l1 = l1;
    }
}

/* torchvision's int(round(x / 2.0)) for x >= 0: Python rounds halves to even. */
static int center_offset(int excess)
{
    int half = excess / 2;
    if (excess % 2 == 0)
        return half;
    return (half % 2 == 0) ? half : half + 1;
}

/* The resized size and crop offsets for p applied to a w x h image; -1 when invalid. */
static int plan(const fw_preproc *p, int w, int h, int *rw, int *rh, int *top, int *left)
{
    if (p->resize == FW_RESIZE_STRETCH) {
        *rw = p->width;
        *rh = p->height;
        *top = *left = 0;
        return 0;
    }
    if (p->resize != FW_RESIZE_SHORTER_SIDE_CROP || p->resize_shorter < 1)
        return -1;
    /* torchvision: short, long = sorted; new_long = int(size * long / short) (true division). */
    int s = p->resize_shorter;
    int shorter = w <= h ? w : h, longer = w <= h ? h : w;
    double nl = (double)((int64_t)s * longer) / (double)shorter;
    if (nl > 1e9)
        return -1;
    int new_long = (int)nl;
    if (w <= h) {
        *rw = s;
        *rh = new_long;
    } else {
        *rw = new_long;
        *rh = s;
    }
    if (*rw < p->width || *rh < p->height)
        return -1; /* torchvision would pad; the manifest must not ask for that */
    *top = center_offset(*rh - p->height);
    *left = center_offset(*rw - p->width);
    return 0;
}

static int params_ok(const fw_preproc *p)
{
    if (!p || p->width < 1 || p->height < 1 || p->width > (1 << 15) || p->height > (1 << 15))
        return 0;
    if (p->align_corners != 0 && p->align_corners != 1)
        return 0;
    if (p->color != FW_COLOR_RGB && p->color != FW_COLOR_BGR)
        return 0;
    if (p->resize != FW_RESIZE_STRETCH && p->resize != FW_RESIZE_SHORTER_SIDE_CROP)
        return 0;
    if (!isfinite(p->scale))
        return 0;
    for (int c = 0; c < 3; c++)
        if (!isfinite(p->mean[c]) || !isfinite(p->std[c]) || p->std[c] == 0.0f)
            return 0;
    return 1;
}

void fw_preprocess_min_size(const fw_preproc *p, int src_w, int src_h, int *min_w, int *min_h)
{
    int mw = 1, mh = 1;
    if (p && p->resize == FW_RESIZE_SHORTER_SIDE_CROP) {
        /* The shorter side must reach resize_shorter; the longer side then does too (DCT
         * scaling rounds both sides up the same way, so the shorter side stays the shorter).
         * A larger minimum on the longer side could only force a needlessly larger scale. */
        int s = p->resize_shorter > 0 ? p->resize_shorter : 1;
        (void)src_w;
        (void)src_h;
        mw = mh = s;
        if (p->width > mw)
            mw = p->width;
        if (p->height > mh)
            mh = p->height;
    } else if (p) {
        mw = p->width > 0 ? p->width : 1;
        mh = p->height > 0 ? p->height : 1;
    }
    if (p && p->full_decode)
        mw = mh = INT_MAX; /* no scaling factor reaches it: the decoder uses 1/1 */
    if (min_w)
        *min_w = mw;
    if (min_h)
        *min_h = mh;
}

/* Horizontal pass of one source row: dst[x*3+c] for the W output columns. */
static void hpass(const uint8_t *row, const axis_tap *xt, int W, float *dst)
{
    for (int x = 0; x < W; x++) {
        const uint8_t *a = row + 3 * xt[x].i0;
        const uint8_t *b = row + 3 * xt[x].i1;
        float l0 = xt[x].l0, l1 = xt[x].l1;
        dst[3 * x + 0] = (float)a[0] * l0 + (float)b[0] * l1;
        dst[3 * x + 1] = (float)a[1] * l0 + (float)b[1] * l1;
        dst[3 * x + 2] = (float)a[2] * l0 + (float)b[2] * l1;
    }
}

int fw_preprocess(const uint8_t *rgb, int w, int h, const fw_preproc *p, float *out)
{
    if (!rgb || !out || w < 1 || h < 1 || !params_ok(p))
        return -1;
    int rw, rh, top, left;
    if (plan(p, w, h, &rw, &rh, &top, &left) != 0)
        return -1;
    const int W = p->width, H = p->height;

    /* One allocation: column taps, row taps, two horizontally filtered rows. */
    size_t bytes = sizeof(axis_tap) * ((size_t)W + (size_t)H) + sizeof(float) * 6u * (size_t)W;
    void *mem = malloc(bytes);
    if (!mem)
        return -1;
    axis_tap *xt = mem;
    axis_tap *yt = xt + W;
    float *rowa = (float *)(yt + H);
    float *rowb = rowa + 3 * (size_t)W;
    compute_taps(w, rw, p->align_corners, left, W, xt);
    compute_taps(h, rh, p->align_corners, top, H, yt);

    /* Output plane k takes source channel src_c[k] with mean[k], std[k]. */
    int src_c[3] = {0, 1, 2};
    if (p->color == FW_COLOR_BGR) {
        src_c[0] = 2;
        src_c[2] = 0;
    }
    const size_t plane = (size_t)W * (size_t)H;
    const float scale = p->scale;
    const size_t stride = (size_t)w * 3;
    int ya = -1, yb = -1; /* source rows held in rowa, rowb */

    for (int oy = 0; oy < H; oy++) {
        int y0 = yt[oy].i0, y1 = yt[oy].i1;
        /* Reuse the filtered rows of the previous output row where possible. */
        if (y0 != ya) {
            if (y0 == yb) {
                float *t = rowa;
                rowa = rowb;
                rowb = t;
                ya = y0;
                yb = -1;
            } else {
                hpass(rgb + stride * (size_t)y0, xt, W, rowa);
                ya = y0;
            }
        }
        if (y1 != yb) {
            if (y1 == ya) {
                /* i1 == i0 (last row, or in == out): weight l1 is 0 but keep the same math */
                memcpy(rowb, rowa, sizeof(float) * 3u * (size_t)W);
            } else {
                hpass(rgb + stride * (size_t)y1, xt, W, rowb);
            }
            yb = y1;
        }
        const float l0 = yt[oy].l0, l1 = yt[oy].l1;
        for (int k = 0; k < 3; k++) {
            const int c = src_c[k];
            const float mean = p->mean[k], sd = p->std[k];
            float *o = out + plane * (size_t)k + (size_t)oy * (size_t)W;
            for (int x = 0; x < W; x++) {
                float v = rowa[3 * x + c] * l0 + rowb[3 * x + c] * l1;
                o[x] = (v * scale - mean) / sd;
            }
        }
    }
    free(mem);
    return 0;
}
