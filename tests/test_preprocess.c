/* test_preprocess.c - fw_preprocess against hand-checked values and against PyTorch.
 *
 * The PyTorch reference is tests/preprocess_ref.py, run once through FW_TORCH_PYTHON (the
 * interpreter with Debian's python3-torch) on the decoded pixels of every real photo for several
 * configurations. Tolerance: max |C - PyTorch| <= REF_TOL = 1e-5 on the normalised values
 * (float32 both sides). Observed: about 2e-6, rounding-order effects. The tolerance is kept
 * tight on purpose: computing the source position in float instead of double (PyTorch's CPU
 * accumulate type) gives errors up to 6.5e-5 here, which a 1e-4 tolerance would miss. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fw_decode.h"
#include "fw_preprocess.h"

#ifndef FW_TEST_PHOTO_DIR
#error "FW_TEST_PHOTO_DIR must be defined"
#endif
#ifndef FW_TEST_WORK_DIR
#error "FW_TEST_WORK_DIR must be defined"
#endif
#ifndef FW_TORCH_PYTHON
#define FW_TORCH_PYTHON "/usr/bin/python3"
#endif
#ifndef FW_TEST_SOURCE_DIR
#define FW_TEST_SOURCE_DIR "tests"
#endif

#define REF_TOL 1e-5

static const char *const photo_names[] = {"dog",  "eagle",  "giraffe", "horses",
                                          "kite", "person", "scream"};
#define NPHOTOS (sizeof photo_names / sizeof photo_names[0])

static fw_preproc plain(int W, int H, int ac)
{
    fw_preproc p = {.width = W,
                    .height = H,
                    .resize = FW_RESIZE_STRETCH,
                    .align_corners = ac,
                    .color = FW_COLOR_RGB,
                    .scale = 1.0f,
                    .mean = {0, 0, 0},
                    .std = {1, 1, 1}};
    return p;
}

/* w x h image whose three channels are all f(x, y). */
static uint8_t *image(int w, int h, const uint8_t *vals)
{
    uint8_t *px = malloc((size_t)w * h * 3);
    assert_non_null(px);
    for (int i = 0; i < w * h; i++)
        px[3 * i] = px[3 * i + 1] = px[3 * i + 2] = vals[i];
    return px;
}

static void expect_plane(const float *out, const float *want, int n, double tol)
{
    for (int i = 0; i < n; i++)
        if (fabs((double)out[i] - want[i]) > tol)
            fail_msg("value %d: got %.7f, want %.7f", i, out[i], want[i]);
}

/* ---- hand-checkable cases ---- */

static void test_2x2(void **state)
{
    (void)state;
    static const uint8_t v[] = {0, 10, 20, 30};
    uint8_t *px = image(2, 2, v);
    float out[3 * 16];

    /* 2x2 -> 1x1, align_corners=0: scale 2, src = 2*0.5-0.5 = 0.5 in both axes: the mean. */
    fw_preproc p = plain(1, 1, 0);
    assert_int_equal(fw_preprocess(px, 2, 2, &p, out), 0);
    for (int c = 0; c < 3; c++)
        assert_float_equal(out[c], 15.0f, 1e-6);
    /* align_corners=1 with an output of 1: scale 0, the top-left pixel. */
    p = plain(1, 1, 1);
    assert_int_equal(fw_preprocess(px, 2, 2, &p, out), 0);
    assert_float_equal(out[0], 0.0f, 0);

    /* 2x2 -> 4x4, align_corners=1: positions 0, 1/3, 2/3, 1. Row 0 is 0..10, column 0 is 0..20. */
    p = plain(4, 4, 1);
    assert_int_equal(fw_preprocess(px, 2, 2, &p, out), 0);
    float want1[16];
    for (int y = 0; y < 4; y++)
        for (int x = 0; x < 4; x++)
            want1[y * 4 + x] = 10.0f * x / 3.0f + 20.0f * y / 3.0f;
    expect_plane(out, want1, 16, 1e-5);
    expect_plane(out + 32, want1, 16, 1e-5);

    /* 2x2 -> 4x4, align_corners=0: src = 0.5*(d+0.5)-0.5 = -0.25 (->0), 0.25, 0.75, 1.25 (->
     * i0=i1=1): fractions 0, 1/4, 3/4, 1. */
    p = plain(4, 4, 0);
    assert_int_equal(fw_preprocess(px, 2, 2, &p, out), 0);
    static const float fr[4] = {0, 0.25f, 0.75f, 1};
    float want0[16];
    for (int y = 0; y < 4; y++)
        for (int x = 0; x < 4; x++)
            want0[y * 4 + x] = 10.0f * fr[x] + 20.0f * fr[y];
    expect_plane(out, want0, 16, 1e-5);
    free(px);
}

static void test_1xN_and_Nx1(void **state)
{
    (void)state;
    static const uint8_t col[] = {0, 10, 20, 30, 40};
    float out[3 * 16];

    /* 1 wide x 5 high -> 3 x 2, align_corners=0: columns all copy the single source column
     * (in 1 -> out 3: src clamps into [0, 0]); rows: scale 2.5, src 2.5*0.5-0.5 = 0.75 and
     * 2.5*1.5-0.5 = 3.25. */
    uint8_t *px = image(1, 5, col);
    fw_preproc p = plain(3, 2, 0);
    assert_int_equal(fw_preprocess(px, 1, 5, &p, out), 0);
    static const float w0[6] = {7.5f, 7.5f, 7.5f, 32.5f, 32.5f, 32.5f};
    expect_plane(out, w0, 6, 1e-5);
    expect_plane(out + 12, w0, 6, 1e-5);
    /* align_corners=1: rows at 0 and 4. */
    p = plain(3, 2, 1);
    assert_int_equal(fw_preprocess(px, 1, 5, &p, out), 0);
    static const float w1[6] = {0, 0, 0, 40, 40, 40};
    expect_plane(out, w1, 6, 0);
    /* To 1x1 with align_corners=1: the first pixel; with 0: src 2.0, exactly row 2. */
    p = plain(1, 1, 1);
    assert_int_equal(fw_preprocess(px, 1, 5, &p, out), 0);
    assert_float_equal(out[0], 0.0f, 0);
    p = plain(1, 1, 0);
    assert_int_equal(fw_preprocess(px, 1, 5, &p, out), 0);
    assert_float_equal(out[0], 20.0f, 1e-6);
    free(px);

    /* 5 wide x 1 high -> 2 x 1, align_corners=0: 7.5 and 32.5 along x. */
    px = image(5, 1, col);
    p = plain(2, 1, 0);
    assert_int_equal(fw_preprocess(px, 5, 1, &p, out), 0);
    static const float w2[2] = {7.5f, 32.5f};
    expect_plane(out, w2, 2, 1e-5);
    /* 1x1 source to 3x3: a constant. */
    p = plain(3, 3, 0);
    assert_int_equal(fw_preprocess(px, 1, 1, &p, out), 0);
    for (int i = 0; i < 27; i++)
        assert_float_equal(out[i], 0.0f, 0);
    free(px);

    /* 2 wide x 1 high [0, 40] -> 4 x 1: align_corners=0 gives 0, 10, 30, 40. */
    static const uint8_t row[] = {0, 40};
    px = image(2, 1, row);
    p = plain(4, 1, 0);
    assert_int_equal(fw_preprocess(px, 2, 1, &p, out), 0);
    static const float w3[4] = {0, 10, 30, 40};
    expect_plane(out, w3, 4, 1e-5);
    free(px);
}

static void test_identity_normalise_and_bgr(void **state)
{
    (void)state;
    /* Same size: a copy, then (p*scale - mean)/std per output plane. */
    const int w = 7, h = 5;
    uint8_t px[7 * 5 * 3];
    for (int i = 0; i < w * h * 3; i++)
        px[i] = (uint8_t)(i * 37 + 11);
    fw_preproc p = {.width = w,
                    .height = h,
                    .resize = FW_RESIZE_STRETCH,
                    .align_corners = 0,
                    .color = FW_COLOR_RGB,
                    .scale = 1.0f / 255.0f,
                    .mean = {0.485f, 0.456f, 0.406f},
                    .std = {0.229f, 0.224f, 0.225f}};
    float out[3 * 7 * 5];
    for (int ac = 0; ac <= 1; ac++) {
        p.align_corners = ac;
        assert_int_equal(fw_preprocess(px, w, h, &p, out), 0);
        for (int c = 0; c < 3; c++)
            for (int i = 0; i < w * h; i++) {
                float want = ((float)px[3 * i + c] * p.scale - p.mean[c]) / p.std[c];
                assert_float_equal(out[c * w * h + i], want, 1e-6);
            }
    }

    /* 1x1 pixel (10, 20, 30), scale 0.5, mean (1,2,3), std (2,4,8) in output order. */
    static const uint8_t one[3] = {10, 20, 30};
    fw_preproc q = {.width = 1,
                    .height = 1,
                    .resize = FW_RESIZE_STRETCH,
                    .align_corners = 0,
                    .color = FW_COLOR_RGB,
                    .scale = 0.5f,
                    .mean = {1, 2, 3},
                    .std = {2, 4, 8}};
    float o[3];
    assert_int_equal(fw_preprocess(one, 1, 1, &q, o), 0);
    assert_float_equal(o[0], 2.0f, 1e-6); /* R: (5-1)/2 */
    assert_float_equal(o[1], 2.0f, 1e-6); /* G: (10-2)/4 */
    assert_float_equal(o[2], 1.5f, 1e-6); /* B: (15-3)/8 */
    q.color = FW_COLOR_BGR;
    assert_int_equal(fw_preprocess(one, 1, 1, &q, o), 0);
    assert_float_equal(o[0], 7.0f, 1e-6);  /* B: (15-1)/2 */
    assert_float_equal(o[1], 2.0f, 1e-6);  /* G: (10-2)/4 */
    assert_float_equal(o[2], 0.25f, 1e-6); /* R: (5-3)/8 */
}

/* Shorter-side resize to the image's own shorter side is an identity resize, so the crop
 * offsets can be read straight off the pixels: R = x & 255, G = y & 255, B = x >> 8. */
static void check_crop(int w, int h, int rs, int W, int H, int want_left, int want_top)
{
    uint8_t *px = malloc((size_t)w * h * 3);
    assert_non_null(px);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            uint8_t *q = px + ((size_t)y * w + x) * 3;
            q[0] = (uint8_t)(x & 255);
            q[1] = (uint8_t)(y & 255);
            q[2] = (uint8_t)(x >> 8);
        }
    fw_preproc p = plain(W, H, 0);
    p.resize = FW_RESIZE_SHORTER_SIDE_CROP;
    p.resize_shorter = rs;
    float *out = malloc(sizeof(float) * 3 * W * H);
    assert_non_null(out);
    for (int ac = 0; ac <= 1; ac++) {
        p.align_corners = ac;
        assert_int_equal(fw_preprocess(px, w, h, &p, out), 0);
        for (int oy = 0; oy < H; oy++)
            for (int ox = 0; ox < W; ox++) {
                int x = want_left + ox, y = want_top + oy;
                float r = out[oy * W + ox], g = out[W * H + oy * W + ox],
                      b = out[2 * W * H + oy * W + ox];
                if (r != (float)(x & 255) || g != (float)(y & 255) || b != (float)(x >> 8))
                    fail_msg("%dx%d rs %d crop %dx%d at (%d,%d): got (%g,%g,%g), want x=%d y=%d", w,
                             h, rs, W, H, ox, oy, r, g, b, x, y);
            }
    }
    free(out);
    free(px);
}

static void test_center_crop_offsets(void **state)
{
    (void)state;
    /* torchvision: int(round((385-224)/2.0)) = round(80.5) = 80 (Python rounds half to even). */
    check_crop(385, 256, 256, 224, 224, 80, 16);
    check_crop(387, 256, 256, 224, 224, 82, 16); /* round(81.5) = 82 */
    check_crop(386, 256, 256, 224, 224, 81, 16);
    check_crop(256, 385, 256, 224, 224, 16, 80); /* portrait */
    check_crop(256, 256, 256, 224, 224, 16, 16);
    check_crop(256, 256, 256, 256, 256, 0, 0);  /* crop = whole image */
    check_crop(300, 225, 225, 200, 224, 50, 0); /* W != H */
    check_crop(225, 301, 225, 224, 1, 0, 150);  /* round(150.0) */
    check_crop(227, 227, 227, 224, 224, 2, 2);  /* round(1.5) = 2 */
    check_crop(229, 229, 229, 224, 224, 2, 2);  /* round(2.5) = 2 */
}

static void test_min_size(void **state)
{
    (void)state;
    int mw = 0, mh = 0;
    fw_preproc p = plain(224, 160, 1);
    fw_preprocess_min_size(&p, 640, 480, &mw, &mh);
    assert_int_equal(mw, 224);
    assert_int_equal(mh, 160);
    p.resize = FW_RESIZE_SHORTER_SIDE_CROP;
    p.resize_shorter = 256;
    fw_preprocess_min_size(&p, 640, 480, &mw, &mh);
    assert_int_equal(mw, 256);
    assert_int_equal(mh, 256);
    fw_preprocess_min_size(&p, 300, 900, &mw, &mh);
    assert_int_equal(mw, 256);
    assert_int_equal(mh, 256);
}

static void test_invalid(void **state)
{
    (void)state;
    uint8_t px[4 * 4 * 3] = {0};
    float out[3 * 64];
    fw_preproc ok = plain(4, 4, 0);
    assert_int_equal(fw_preprocess(px, 4, 4, &ok, out), 0);
    assert_int_equal(fw_preprocess(NULL, 4, 4, &ok, out), -1);
    assert_int_equal(fw_preprocess(px, 4, 4, NULL, out), -1);
    assert_int_equal(fw_preprocess(px, 4, 4, &ok, NULL), -1);
    assert_int_equal(fw_preprocess(px, 0, 4, &ok, out), -1);
    assert_int_equal(fw_preprocess(px, 4, 0, &ok, out), -1);
    assert_int_equal(fw_preprocess(px, -3, 4, &ok, out), -1);
    fw_preproc p = ok;
    p.width = 0;
    assert_int_equal(fw_preprocess(px, 4, 4, &p, out), -1);
    p = ok;
    p.height = -1;
    assert_int_equal(fw_preprocess(px, 4, 4, &p, out), -1);
    p = ok;
    p.align_corners = 2;
    assert_int_equal(fw_preprocess(px, 4, 4, &p, out), -1);
    p = ok;
    p.color = (fw_color)7;
    assert_int_equal(fw_preprocess(px, 4, 4, &p, out), -1);
    p = ok;
    p.resize = (fw_resize)9;
    assert_int_equal(fw_preprocess(px, 4, 4, &p, out), -1);
    p = ok;
    p.std[1] = 0.0f;
    assert_int_equal(fw_preprocess(px, 4, 4, &p, out), -1);
    p = ok;
    p.scale = NAN;
    assert_int_equal(fw_preprocess(px, 4, 4, &p, out), -1);
    p = ok;
    p.mean[2] = INFINITY;
    assert_int_equal(fw_preprocess(px, 4, 4, &p, out), -1);
    /* Shorter-side crop: resize_shorter must be >= 1 and the crop must fit. */
    p = ok;
    p.resize = FW_RESIZE_SHORTER_SIDE_CROP;
    p.resize_shorter = 0;
    assert_int_equal(fw_preprocess(px, 4, 4, &p, out), -1);
    p.resize_shorter = 3; /* 3x3 resized, 4x4 crop */
    assert_int_equal(fw_preprocess(px, 4, 4, &p, out), -1);
    p.resize_shorter = 4;
    assert_int_equal(fw_preprocess(px, 4, 4, &p, out), 0);
}

/* ---- real photos against PyTorch ---- */

typedef struct config {
    const char *name;
    fw_preproc p;
    int small_decode; /* 1: decode at ~1/4 of the needed size so that the resize upscales */
} config;

#define IMAGENET_MEAN                                                                              \
    {                                                                                              \
        0.485f, 0.456f, 0.406f                                                                     \
    }
#define IMAGENET_STD                                                                               \
    {                                                                                              \
        0.229f, 0.224f, 0.225f                                                                     \
    }

static const config configs[] = {
    {"stretch 224x224 ac=0",
     {224, 224, FW_RESIZE_STRETCH, 0, 0, FW_COLOR_RGB, 1.0f / 255.0f, {0, 0, 0}, {1, 1, 1}, 0},
     0},
    {"stretch 224x224 ac=1 (nsfwjs)",
     {224, 224, FW_RESIZE_STRETCH, 0, 1, FW_COLOR_RGB, 1.0f / 255.0f, {0, 0, 0}, {1, 1, 1}, 0},
     0},
    {"shorter 256 crop 224x224 ac=0",
     {224, 224, FW_RESIZE_SHORTER_SIDE_CROP, 256, 0, FW_COLOR_RGB, 1.0f / 255.0f, IMAGENET_MEAN,
      IMAGENET_STD, 0},
     0},
    {"stretch 320x192 ac=0",
     {320, 192, FW_RESIZE_STRETCH, 0, 0, FW_COLOR_RGB, 1.0f / 255.0f, IMAGENET_MEAN, IMAGENET_STD,
      0},
     0},
    {"shorter 256 crop 200x240 ac=1",
     {200, 240, FW_RESIZE_SHORTER_SIDE_CROP, 256, 1, FW_COLOR_RGB, 1.0f / 255.0f, IMAGENET_MEAN,
      IMAGENET_STD, 0},
     0},
    {"BGR stretch 299x299 ac=1 caffe",
     {299,
      299,
      FW_RESIZE_STRETCH,
      0,
      1,
      FW_COLOR_BGR,
      1.0f,
      {103.53f, 116.28f, 123.675f},
      {57.375f, 57.12f, 58.395f},
      0},
     0},
    {"upscale stretch 224x224 ac=0",
     {224,
      224,
      FW_RESIZE_STRETCH,
      0,
      0,
      FW_COLOR_RGB,
      1.0f / 255.0f,
      {0.5f, 0.5f, 0.5f},
      {0.5f, 0.5f, 0.5f},
      0},
     1},
    {"upscale stretch 300x250 ac=1",
     {300,
      250,
      FW_RESIZE_STRETCH,
      0,
      1,
      FW_COLOR_BGR,
      1.0f / 255.0f,
      {0.1f, 0.2f, 0.3f},
      {0.3f, 0.2f, 0.1f},
      0},
     1},
    {"upscale shorter 256 crop 224 ac=0",
     {224, 224, FW_RESIZE_SHORTER_SIDE_CROP, 256, 0, FW_COLOR_RGB, 1.0f / 255.0f, IMAGENET_MEAN,
      IMAGENET_STD, 0},
     1},
};
#define NCONFIGS (sizeof configs / sizeof configs[0])

static uint8_t *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    assert_true(n >= 0);
    uint8_t *b = malloc((size_t)n + 1);
    assert_non_null(b);
    assert_int_equal(fread(b, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return b;
}

static void write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        fail_msg("cannot write %s", path);
    assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

static void test_photos_match_pytorch(void **state)
{
    (void)state;
    enum { NJOBS = NPHOTOS * NCONFIGS };
    float *ours[NJOBS] = {0};
    char out_path[NJOBS][1024], rgb_path[NJOBS][1024];
    int jw[NJOBS], jh[NJOBS];
    char jobs_path[1024];
    snprintf(jobs_path, sizeof jobs_path, "%s/preprocess_jobs.txt", FW_TEST_WORK_DIR);
    FILE *jobs = fopen(jobs_path, "w");
    if (!jobs)
        fail_msg("cannot write %s", jobs_path);

    fw_decoder *d = fw_decoder_new();
    assert_non_null(d);
    for (size_t ph = 0; ph < NPHOTOS; ph++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/%s.jpg", FW_TEST_PHOTO_DIR, photo_names[ph]);
        size_t len;
        uint8_t *jpeg = read_file(path, &len);
        for (size_t c = 0; c < NCONFIGS; c++) {
            const fw_preproc *p = &configs[c].p;
            size_t j = ph * NCONFIGS + c;
            int min_w, min_h;
            fw_preprocess_min_size(p, 0, 0, &min_w, &min_h);
            if (configs[c].small_decode) {
                min_w /= 4;
                min_h /= 4;
            }
            const uint8_t *rgb;
            fw_decode_info info;
            char msg[256];
            fw_err e =
                fw_decode_jpeg(d, jpeg, len, NULL, min_w, min_h, &rgb, &info, msg, sizeof msg);
            if (e != FW_OK)
                fail_msg("%s: %s", photo_names[ph], msg);
            if (configs[c].small_decode) {
                /* Really an upscale in both directions. */
                assert_true(info.w < p->width && info.h < p->height);
            } else if (p->resize == FW_RESIZE_SHORTER_SIDE_CROP) {
                assert_true((info.w < info.h ? info.w : info.h) >= p->resize_shorter);
            } else {
                assert_true(info.w >= p->width && info.h >= p->height);
            }
            jw[j] = p->width;
            jh[j] = p->height;
            ours[j] = malloc(sizeof(float) * 3 * p->width * p->height);
            assert_non_null(ours[j]);
            assert_int_equal(fw_preprocess(rgb, info.w, info.h, p, ours[j]), 0);

            snprintf(rgb_path[j], sizeof rgb_path[j], "%s/pp_%s_%zu.rgb", FW_TEST_WORK_DIR,
                     photo_names[ph], c);
            snprintf(out_path[j], sizeof out_path[j], "%s/pp_%s_%zu.ref.f32", FW_TEST_WORK_DIR,
                     photo_names[ph], c);
            remove(out_path[j]);
            write_file(rgb_path[j], rgb, (size_t)info.w * info.h * 3);
            fprintf(jobs, "%s %d %d %s %d %d %s %d %d %s %.9g %.9g %.9g %.9g %.9g %.9g %.9g\n",
                    rgb_path[j], info.w, info.h, out_path[j], p->width, p->height,
                    p->resize == FW_RESIZE_STRETCH ? "stretch" : "crop", p->resize_shorter,
                    p->align_corners, p->color == FW_COLOR_BGR ? "bgr" : "rgb", (double)p->scale,
                    (double)p->mean[0], (double)p->mean[1], (double)p->mean[2], (double)p->std[0],
                    (double)p->std[1], (double)p->std[2]);
        }
        free(jpeg);
    }
    fw_decoder_free(d);
    assert_int_equal(fclose(jobs), 0);

    char cmd[4096];
    snprintf(cmd, sizeof cmd, "'%s' '%s/preprocess_ref.py' '%s'", FW_TORCH_PYTHON,
             FW_TEST_SOURCE_DIR, jobs_path);
    print_message("  running %s\n", cmd);
    fflush(stdout);
    int rc = system(cmd);
    if (rc != 0)
        fail_msg("PyTorch reference failed (status %d): %s", rc, cmd);

    double worst = 0.0;
    for (size_t c = 0; c < NCONFIGS; c++) {
        double cfg_max = 0.0;
        for (size_t ph = 0; ph < NPHOTOS; ph++) {
            size_t j = ph * NCONFIGS + c;
            size_t n = (size_t)3 * jw[j] * jh[j], len;
            uint8_t *raw = read_file(out_path[j], &len);
            assert_int_equal(len, n * sizeof(float));
            for (size_t i = 0; i < n; i++) {
                float r;
                memcpy(&r, raw + i * sizeof r, sizeof r);
                double diff = fabs((double)ours[j][i] - (double)r);
                if (!(diff <= REF_TOL))
                    fail_msg("%s, %s: value %zu (plane %zu, y %zu, x %zu): C %.8f, PyTorch %.8f",
                             photo_names[ph], configs[c].name, i, i / ((size_t)jw[j] * jh[j]),
                             (i % ((size_t)jw[j] * jh[j])) / jw[j], i % jw[j], ours[j][i], r);
                if (diff > cfg_max)
                    cfg_max = diff;
            }
            free(raw);
            free(ours[j]);
            /* Passed: drop the job's files (they stay behind for a failure). */
            remove(out_path[j]);
            remove(rgb_path[j]);
        }
        print_message("  %-34s max |C - PyTorch| = %.3g over %zu photos\n", configs[c].name,
                      cfg_max, NPHOTOS);
        if (cfg_max > worst)
            worst = cfg_max;
    }
    print_message("  overall max |C - PyTorch| = %.3g (tolerance %.0e)\n", worst, REF_TOL);
}

/* ---- timing: informative only, never pass/fail ---- */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median_preprocess_ms(const uint8_t *rgb, int w, int h, const fw_preproc *p,
                                   float *out, int runs)
{
    double *t = malloc(sizeof(double) * runs);
    assert_non_null(t);
    for (int i = 0; i < runs; i++) {
        double t0 = now_s();
        assert_int_equal(fw_preprocess(rgb, w, h, p, out), 0);
        t[i] = now_s() - t0;
    }
    qsort(t, runs, sizeof t[0], cmp_double);
    double m = t[runs / 2] * 1e3;
    free(t);
    return m;
}

static void test_timing(void **state)
{
    (void)state;
    enum { RUNS = 201 };
    const int w = 640, h = 480;
    uint8_t *px = malloc((size_t)w * h * 3);
    assert_non_null(px);
    uint32_t s = 12345;
    for (int i = 0; i < w * h * 3; i++) {
        s = s * 1664525u + 1013904223u;
        px[i] = (uint8_t)(s >> 24);
    }
    float *out = malloc(sizeof(float) * 3 * 299 * 299);
    assert_non_null(out);
    for (size_t c = 0; c < 3; c++) {
        print_message("  preprocess 640x480 -> %s: median %.3f ms (%d runs)\n", configs[c].name,
                      median_preprocess_ms(px, w, h, &configs[c].p, out, RUNS), RUNS);
    }
    free(px);

    /* Decode (at the chosen DCT scale) + preprocess of real photos for a 224x224 model. */
    const char *names[] = {"person", "dog", "giraffe"};
    fw_decoder *d = fw_decoder_new();
    for (size_t k = 0; k < 3; k++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/%s.jpg", FW_TEST_PHOTO_DIR, names[k]);
        size_t len;
        uint8_t *jpeg = read_file(path, &len);
        const fw_preproc *p = &configs[1].p; /* stretch 224x224 ac=1 */
        double td[RUNS], tp[RUNS], tt[RUNS];
        fw_decode_info info;
        for (int i = 0; i < RUNS; i++) {
            const uint8_t *rgb;
            char msg[256];
            double t0 = now_s();
            assert_int_equal(fw_decode_jpeg(d, jpeg, len, NULL, p->width, p->height, &rgb, &info,
                                            msg, sizeof msg),
                             FW_OK);
            double t1 = now_s();
            assert_int_equal(fw_preprocess(rgb, info.w, info.h, p, out), 0);
            double t2 = now_s();
            td[i] = t1 - t0;
            tp[i] = t2 - t1;
            tt[i] = t2 - t0;
        }
        qsort(td, RUNS, sizeof td[0], cmp_double);
        qsort(tp, RUNS, sizeof tp[0], cmp_double);
        qsort(tt, RUNS, sizeof tt[0], cmp_double);
        print_message("  %-7s %dx%d -> decode %dx%d (%d/%d) median %.3f ms, preprocess -> 224x224 "
                      "median %.3f ms, total median %.3f ms (%d runs)\n",
                      names[k], info.src_w, info.src_h, info.w, info.h, info.scale_num,
                      info.scale_denom, td[RUNS / 2] * 1e3, tp[RUNS / 2] * 1e3, tt[RUNS / 2] * 1e3,
                      RUNS);
        free(jpeg);
    }
    fw_decoder_free(d);
    free(out);
}

int main(void)
{
    const char *filter = getenv("FW_TEST_FILTER"), *skip = getenv("FW_TEST_SKIP");
    if (filter && *filter)
        cmocka_set_test_filter(filter);
    if (skip && *skip)
        cmocka_set_skip_filter(skip);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_2x2),
        cmocka_unit_test(test_1xN_and_Nx1),
        cmocka_unit_test(test_identity_normalise_and_bgr),
        cmocka_unit_test(test_center_crop_offsets),
        cmocka_unit_test(test_min_size),
        cmocka_unit_test(test_invalid),
        cmocka_unit_test(test_photos_match_pytorch),
        cmocka_unit_test(test_timing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
