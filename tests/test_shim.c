/* test_shim.c - tests of the C API over libtorch (shim/fw_torch.h) on the tiny test model.
 *
 * Written in C on purpose: building this file proves fw_torch.h compiles as C. The models and the
 * reference outputs come from models/make_tiny_model.py (the make_test_models fixture); the
 * expected numbers in tiny_ref.bin were computed by PyTorch, not by the shim.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fw_torch.h"

#define MODEL_DIR FW_TEST_MODEL_DIR
#define TINY MODEL_DIR "/tiny.pt"
#define TINY_PROBS MODEL_DIR "/tiny_probs.pt"
#define CORRUPT MODEL_DIR "/corrupt.pt"
#define REF MODEL_DIR "/tiny_ref.bin"

/* tiny_ref.bin: a fixed input batch and PyTorch's outputs for it. */
typedef struct ref_data {
    int32_t n, c, h, w, k;
    float *input;  /* n*c*h*w */
    float *logits; /* n*k */
    float *probs;  /* n*k */
} ref_data;

static ref_data ref;

static int read_floats(FILE *f, float **out, size_t count)
{
    *out = malloc(sizeof(float) * count);
    return *out && fread(*out, sizeof(float), count, f) == count ? 0 : -1;
}

static int load_ref(void **state)
{
    (void)state;
    FILE *f = fopen(REF, "rb");
    if (!f) {
        fprintf(stderr, "cannot open %s (run the make_test_models fixture)\n", REF);
        return -1;
    }
    char magic[8];
    int32_t dims[5];
    int rc = -1;
    if (fread(magic, 1, 8, f) == 8 && memcmp(magic, "FWREF01\n", 8) == 0 &&
        fread(dims, sizeof(int32_t), 5, f) == 5) {
        ref.n = dims[0], ref.c = dims[1], ref.h = dims[2], ref.w = dims[3], ref.k = dims[4];
        size_t in_count = (size_t)ref.n * ref.c * ref.h * ref.w;
        size_t out_count = (size_t)ref.n * ref.k;
        if (read_floats(f, &ref.input, in_count) == 0 &&
            read_floats(f, &ref.logits, out_count) == 0 &&
            read_floats(f, &ref.probs, out_count) == 0)
            rc = 0;
    }
    fclose(f);
    if (rc != 0)
        fprintf(stderr, "%s is malformed\n", REF);
    return rc;
}

static int free_ref(void **state)
{
    (void)state;
    free(ref.input);
    free(ref.logits);
    free(ref.probs);
    return 0;
}

static fwt_model *load(const char *path, int optimize)
{
    char err[512] = "";
    fwt_params p = fwt_default_params();
    p.optimize = optimize;
    fwt_model *m = fwt_model_load(path, &p, err, sizeof err);
    if (!m)
        fail_msg("loading %s: %s", path, err);
    return m;
}

/* |a-b| <= tol * max(1, |b|) for every element. */
static void assert_close(const float *a, const float *b, size_t count, double tol)
{
    for (size_t i = 0; i < count; i++) {
        double scale = b[i] < 0 ? -b[i] : b[i];
        if (scale < 1.0)
            scale = 1.0;
        double d = (double)a[i] - (double)b[i];
        if (d < 0)
            d = -d;
        if (d > tol * scale)
            fail_msg("element %zu: %.9g vs %.9g (tolerance %g)", i, a[i], b[i], tol);
    }
}

static void assert_one_line(const char *err)
{
    assert_true(err[0] != '\0');
    assert_null(strchr(err, '\n'));
    assert_null(strchr(err, '\r'));
}

/* Runs before anything has started libtorch's inter-op pool (cmocka runs tests in order). */
static void test_set_threads(void **state)
{
    (void)state;
    char err[256] = "";
    assert_int_equal(fwt_set_threads(1, 1, err, sizeof err), 0);
    /* Inter-op threads can be set once per process; a second try fails with a message. */
    assert_int_equal(fwt_set_threads(0, 2, err, sizeof err), -1);
    assert_one_line(err);
    print_message("second set_num_interop_threads: %s\n", err);
    assert_int_equal(fwt_set_threads(1, 0, err, sizeof err), 0); /* intra alone is fine */
    assert_int_equal(fwt_set_threads(0, 0, NULL, 0), 0);         /* nothing to do */
}

static void test_version(void **state)
{
    (void)state;
    const char *v = fwt_torch_version();
    assert_non_null(v);
    assert_true(strlen(v) > 0);
    print_message("libtorch %s\n", v);
}

static void test_default_params(void **state)
{
    (void)state;
    fwt_params p = fwt_default_params();
    assert_string_equal(p.device, "cpu");
    assert_int_equal(p.optimize, 1);
}

static void test_load_probe(void **state)
{
    (void)state;
    for (int opt = 0; opt <= 1; opt++) {
        fwt_model *m = load(TINY, opt);
        assert_string_equal(fwt_model_device(m), "cpu");
        char err[256] = "";
        int64_t k = -1;
        assert_int_equal(fwt_model_probe(m, 3, 32, 32, &k, err, sizeof err), 0);
        assert_int_equal(k, 4);
        /* The net pools globally: a larger picture works too. */
        k = -1;
        assert_int_equal(fwt_model_probe(m, 3, 64, 48, &k, err, sizeof err), 0);
        assert_int_equal(k, 4);
        fwt_model_free(m);
    }
    fwt_model_free(NULL);
}

/* The shim's outputs equal PyTorch's, with and without optimisation, for both variants. */
static void test_matches_pytorch(void **state)
{
    (void)state;
    const size_t out_count = (size_t)ref.n * ref.k;
    float *out = calloc(out_count, sizeof(float));
    float *out_opt = calloc(out_count, sizeof(float));
    assert_non_null(out);
    assert_non_null(out_opt);
    char err[256] = "";

    fwt_model *plain = load(TINY, 0);
    fwt_model *opt = load(TINY, 1);
    assert_int_equal(fwt_model_forward(plain, ref.input, ref.n, ref.c, ref.h, ref.w, out,
                                       (int64_t)out_count, err, sizeof err),
                     0);
    assert_close(out, ref.logits, out_count, 1e-5);
    /* Run the optimised one a few times: libtorch's profiling executor re-plans the graph on the
     * first runs, and every run must agree. */
    for (int i = 0; i < 3; i++) {
        assert_int_equal(fwt_model_forward(opt, ref.input, ref.n, ref.c, ref.h, ref.w, out_opt,
                                           (int64_t)out_count, err, sizeof err),
                         0);
        assert_close(out_opt, ref.logits, out_count, 1e-4);
        assert_close(out_opt, out, out_count, 1e-4);
    }
    fwt_model_free(plain);
    fwt_model_free(opt);

    for (int o = 0; o <= 1; o++) {
        fwt_model *probs = load(TINY_PROBS, o);
        assert_int_equal(fwt_model_forward(probs, ref.input, ref.n, ref.c, ref.h, ref.w, out,
                                           (int64_t)out_count, err, sizeof err),
                         0);
        assert_close(out, ref.probs, out_count, 1e-5);
        for (int i = 0; i < ref.n; i++) {
            double sum = 0;
            for (int j = 0; j < ref.k; j++)
                sum += out[i * ref.k + j];
            assert_true(sum > 0.9999 && sum < 1.0001);
        }
        fwt_model_free(probs);
    }

    /* The reference batch was built so that its top classes differ (red, green, dark). */
    int top[3] = {0, 0, 0};
    for (int i = 0; i < ref.n && i < 3; i++)
        for (int j = 1; j < ref.k; j++)
            if (ref.logits[i * ref.k + j] > ref.logits[i * ref.k + top[i]])
                top[i] = j;
    assert_true(top[0] != top[1] && top[1] != top[2] && top[0] != top[2]);
    free(out);
    free(out_opt);
}

/* A batch of n gives the same rows as n forwards of one. The input buffer is left untouched. */
static void test_batch_equals_singles(void **state)
{
    (void)state;
    const size_t item = (size_t)ref.c * ref.h * ref.w;
    const size_t in_count = (size_t)ref.n * item;
    float *in_copy = malloc(sizeof(float) * in_count);
    float *batch = calloc((size_t)ref.n * ref.k, sizeof(float));
    float *single = calloc((size_t)ref.k, sizeof(float));
    assert_non_null(in_copy);
    assert_non_null(batch);
    assert_non_null(single);
    memcpy(in_copy, ref.input, sizeof(float) * in_count);
    char err[256] = "";
    for (int opt = 0; opt <= 1; opt++) {
        fwt_model *m = load(TINY, opt);
        assert_int_equal(fwt_model_forward(m, ref.input, ref.n, ref.c, ref.h, ref.w, batch,
                                           (int64_t)ref.n * ref.k, err, sizeof err),
                         0);
        for (int i = 0; i < ref.n; i++) {
            assert_int_equal(fwt_model_forward(m, ref.input + i * item, 1, ref.c, ref.h, ref.w,
                                               single, ref.k, err, sizeof err),
                             0);
            assert_close(single, batch + (size_t)i * ref.k, (size_t)ref.k, 1e-5);
        }
        fwt_model_free(m);
    }
    assert_memory_equal(in_copy, ref.input, sizeof(float) * in_count);
    free(in_copy);
    free(batch);
    free(single);
}

static void test_corrupt_file(void **state)
{
    (void)state;
    char err[256] = "";
    fwt_params p = fwt_default_params();
    assert_null(fwt_model_load(CORRUPT, &p, err, sizeof err));
    assert_one_line(err);
    assert_non_null(strstr(err, CORRUPT));
    print_message("corrupt: %s\n", err);
    /* Not TorchScript at all: the reference file. */
    assert_null(fwt_model_load(REF, &p, err, sizeof err));
    assert_one_line(err);
}

static void test_missing_file(void **state)
{
    (void)state;
    char err[256] = "";
    const char *path = MODEL_DIR "/no-such-model.pt";
    fwt_params p = fwt_default_params();
    assert_null(fwt_model_load(path, &p, err, sizeof err));
    assert_one_line(err);
    assert_non_null(strstr(err, path));
    assert_non_null(strstr(err, "No such file or directory"));
    print_message("missing: %s\n", err);
    /* A directory is not a model either. */
    assert_null(fwt_model_load(MODEL_DIR, &p, err, sizeof err));
    assert_one_line(err);
    assert_null(fwt_model_load("", &p, err, sizeof err));
    assert_one_line(err);
    assert_null(fwt_model_load(NULL, &p, err, sizeof err));
    assert_one_line(err);
}

static void test_bad_device(void **state)
{
    (void)state;
    char err[256] = "";
    fwt_params p = fwt_default_params();
    p.device = "nosuchdevice";
    assert_null(fwt_model_load(TINY, &p, err, sizeof err));
    assert_one_line(err);
    assert_non_null(strstr(err, "nosuchdevice"));
    print_message("bad device: %s\n", err);

    /* CUDA: a CPU-only libtorch (or no GPU) fails with a message; a CUDA one must agree with
     * PyTorch's CPU numbers. */
    p.device = "cuda";
    fwt_model *m = fwt_model_load(TINY, &p, err, sizeof err);
    if (!m) {
        assert_one_line(err);
        print_message("cuda: %s\n", err);
        return;
    }
    assert_string_equal(fwt_model_device(m), "cuda:0");
    float *out = calloc((size_t)ref.n * ref.k, sizeof(float));
    assert_non_null(out);
    assert_int_equal(fwt_model_forward(m, ref.input, ref.n, ref.c, ref.h, ref.w, out,
                                       (int64_t)ref.n * ref.k, err, sizeof err),
                     0);
    assert_close(out, ref.logits, (size_t)ref.n * ref.k, 1e-3);
    free(out);
    fwt_model_free(m);
}

/* Rejected shapes fail with a message, and the handle keeps working afterwards. */
static void test_bad_shapes(void **state)
{
    (void)state;
    fwt_model *m = load(TINY, 1);
    const size_t out_count = (size_t)ref.n * ref.k;
    float *out = calloc(out_count, sizeof(float));
    float *zeros = calloc((size_t)ref.n * 3 * 64 * 64, sizeof(float));
    assert_non_null(out);
    assert_non_null(zeros);
    char err[512] = "";
    int64_t k = -1;

    /* One channel: the first conv wants three. */
    assert_int_equal(fwt_model_forward(m, zeros, 1, 1, 32, 32, out, ref.k, err, sizeof err), -1);
    assert_one_line(err);
    assert_non_null(strstr(err, "channels"));
    print_message("1 channel: %s\n", err);
    assert_int_equal(fwt_model_probe(m, 1, 32, 32, &k, err, sizeof err), -1);
    assert_one_line(err);

    /* 5x5: too small for two 3x3 stride-2 convs. */
    assert_int_equal(fwt_model_forward(m, zeros, 1, 3, 5, 5, out, ref.k, err, sizeof err), -1);
    assert_one_line(err);
    print_message("5x5: %s\n", err);
    assert_int_equal(fwt_model_probe(m, 3, 5, 5, &k, err, sizeof err), -1);
    assert_one_line(err);

    /* n = 0, negative and absurd dimensions. */
    assert_int_equal(fwt_model_forward(m, zeros, 0, 3, 32, 32, out, ref.k, err, sizeof err), -1);
    assert_one_line(err);
    assert_int_equal(fwt_model_forward(m, zeros, 1, 3, -32, 32, out, ref.k, err, sizeof err), -1);
    assert_one_line(err);
    assert_int_equal(
        fwt_model_forward(m, zeros, INT64_MAX / 2, 3, 32, 32, out, ref.k, err, sizeof err), -1);
    assert_one_line(err);
    assert_int_equal(fwt_model_probe(m, 0, 32, 32, &k, err, sizeof err), -1);
    assert_one_line(err);

    /* NULL buffers and NULL model. */
    assert_int_equal(fwt_model_forward(m, NULL, 1, 3, 32, 32, out, ref.k, err, sizeof err), -1);
    assert_one_line(err);
    assert_int_equal(fwt_model_forward(m, zeros, 1, 3, 32, 32, NULL, ref.k, err, sizeof err), -1);
    assert_one_line(err);
    assert_int_equal(fwt_model_forward(NULL, zeros, 1, 3, 32, 32, out, ref.k, err, sizeof err), -1);
    assert_one_line(err);
    assert_int_equal(fwt_model_probe(NULL, 3, 32, 32, &k, err, sizeof err), -1);
    assert_one_line(err);

    /* Output buffer too small: fails and leaves the buffer alone. */
    for (size_t i = 0; i < out_count; i++)
        out[i] = -7.0f;
    assert_int_equal(fwt_model_forward(m, ref.input, ref.n, ref.c, ref.h, ref.w, out,
                                       (int64_t)out_count - 1, err, sizeof err),
                     -1);
    assert_one_line(err);
    print_message("output_cap: %s\n", err);
    for (size_t i = 0; i < out_count; i++)
        assert_true(out[i] == -7.0f);
    assert_int_equal(
        fwt_model_forward(m, ref.input, 1, ref.c, ref.h, ref.w, out, 3, err, sizeof err), -1);

    /* Still works, and still right. */
    assert_int_equal(fwt_model_forward(m, ref.input, ref.n, ref.c, ref.h, ref.w, out,
                                       (int64_t)out_count, err, sizeof err),
                     0);
    assert_close(out, ref.logits, out_count, 1e-4);
    assert_int_equal(fwt_model_probe(m, 3, 32, 32, &k, err, sizeof err), 0);
    assert_int_equal(k, 4);
    fwt_model_free(m);
    free(out);
    free(zeros);
}

/* Tiny, NULL and zero-length error buffers never crash and are always terminated. */
static void test_small_err_buffers(void **state)
{
    (void)state;
    fwt_params p = fwt_default_params();
    char one[1] = {'x'};
    assert_null(fwt_model_load(CORRUPT, &p, one, sizeof one));
    assert_int_equal(one[0], '\0');
    assert_null(fwt_model_load(MODEL_DIR "/missing.pt", &p, one, sizeof one));
    assert_int_equal(one[0], '\0');

    char eight[8];
    memset(eight, 'x', sizeof eight);
    assert_null(fwt_model_load(CORRUPT, &p, eight, sizeof eight));
    assert_true(strlen(eight) == 7);

    assert_null(fwt_model_load(CORRUPT, &p, NULL, 0));
    assert_null(fwt_model_load(MODEL_DIR "/missing.pt", &p, NULL, 0));
    p.device = "nosuchdevice";
    assert_null(fwt_model_load(TINY, &p, NULL, 0));
    /* NULL params mean the defaults. */
    fwt_model *d = fwt_model_load(TINY, NULL, NULL, 0);
    assert_non_null(d);
    fwt_model_free(d);

    fwt_model *m = load(TINY, 1);
    float out[4];
    float zeros[5 * 5 * 3] = {0};
    assert_int_equal(fwt_model_forward(m, zeros, 1, 3, 5, 5, out, 4, NULL, 0), -1);
    assert_int_equal(fwt_model_forward(m, zeros, 1, 3, 5, 5, out, 4, one, sizeof one), -1);
    assert_int_equal(one[0], '\0');
    assert_int_equal(fwt_model_forward(m, zeros, 0, 3, 5, 5, out, 4, NULL, 0), -1);
    fwt_model_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_set_threads),       cmocka_unit_test(test_version),
        cmocka_unit_test(test_default_params),    cmocka_unit_test(test_load_probe),
        cmocka_unit_test(test_matches_pytorch),   cmocka_unit_test(test_batch_equals_singles),
        cmocka_unit_test(test_corrupt_file),      cmocka_unit_test(test_missing_file),
        cmocka_unit_test(test_bad_device),        cmocka_unit_test(test_bad_shapes),
        cmocka_unit_test(test_small_err_buffers),
    };
    return cmocka_run_group_tests(tests, load_ref, free_ref);
}
