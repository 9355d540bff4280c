/* test_manifest.c - model manifests: parsing, validation against the model, and the messages
 * that name the bad field or file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "fw_manifest.h"
#include "fw_model.h"

#define GOOD                                                                                       \
    "\"name\":\"t\",\"file\":\"m.pt\",\"input_width\":32,\"input_height\":24,\"output\":"          \
    "\"probs\","                                                                                   \
    "\"labels\":[\"a\",\"b\"]"

static void test_parse_good(void **state)
{
    (void)state;
    fw_manifest m;
    char err[256];
    const char *j = "{" GOOD ",\"color_order\":\"bgr\",\"resize\":\"shorter_side_crop\","
                    "\"resize_shorter\":40,\"align_corners\":true,\"scale\":2,"
                    "\"mean\":[1,2,3],\"std\":[4,5,6]}";
    assert_int_equal(fw_manifest_parse(j, "/models/x/t.json", &m, err, sizeof err), 0);
    assert_string_equal(m.model_path, "/models/x/m.pt");
    assert_int_equal(m.pre.width, 32);
    assert_int_equal(m.pre.height, 24);
    assert_int_equal(m.pre.color, FW_COLOR_BGR);
    assert_int_equal(m.pre.resize, FW_RESIZE_SHORTER_SIDE_CROP);
    assert_int_equal(m.pre.resize_shorter, 40);
    assert_true(m.pre.align_corners);
    assert_float_equal(m.pre.mean[2], 3.0f, 0);
    assert_float_equal(m.pre.std[0], 4.0f, 0);
    assert_int_equal(m.num_labels, 2);
    assert_string_equal(m.labels[1], "b");
    fw_manifest_free(&m);

    /* Defaults: rgb, stretch, scale 1/255, mean 0, std 1; relative path without a directory. */
    assert_int_equal(fw_manifest_parse("{" GOOD "}", "t.json", &m, err, sizeof err), 0);
    assert_string_equal(m.model_path, "m.pt");
    assert_int_equal(m.pre.resize, FW_RESIZE_STRETCH);
    assert_float_equal(m.pre.scale, 1.0f / 255.0f, 1e-9f);
    assert_float_equal(m.pre.std[1], 1.0f, 0);
    assert_int_equal(m.pre.full_decode, 0);
    int mw, mh;
    fw_preprocess_min_size(&m.pre, 0, 0, &mw, &mh);
    assert_int_equal(mw, 32); /* decode at the smallest DCT scale that covers 32x24 */
    assert_int_equal(mh, 24);
    fw_manifest_free(&m);

    /* "jpeg_dct_scaling": false: always decode at full size (the decoder never reaches INT_MAX). */
    assert_int_equal(
        fw_manifest_parse("{" GOOD ",\"jpeg_dct_scaling\":false}", "t.json", &m, err, sizeof err),
        0);
    assert_int_equal(m.pre.full_decode, 1);
    fw_preprocess_min_size(&m.pre, 0, 0, &mw, &mh);
    assert_int_equal(mw, INT_MAX);
    assert_int_equal(mh, INT_MAX);
    fw_manifest_free(&m);
    assert_int_equal(
        fw_manifest_parse("{" GOOD ",\"jpeg_dct_scaling\":true}", "t.json", &m, err, sizeof err),
        0);
    assert_int_equal(m.pre.full_decode, 0);
    fw_manifest_free(&m);
}

static void test_parse_errors_name_the_field(void **state)
{
    (void)state;
    struct {
        const char *json;
        const char *field;
    } cases[] = {
        {"{\"name\":\"t\",\"file\":\"m.pt\",\"input_height\":2,\"output\":\"probs\",\"labels\":["
         "\"a\"]}",
         "input_width"},
        {"{" GOOD ",\"color_order\":\"rgba\"}", "color_order"},
        {"{" GOOD ",\"resize\":\"squash\"}", "resize"},
        {"{" GOOD ",\"resize_shorter\":256}", "resize_shorter"},
        {"{" GOOD ",\"align_corners\":1}", "align_corners"},
        {"{" GOOD ",\"jpeg_dct_scaling\":\"no\"}", "jpeg_dct_scaling"},
        {"{" GOOD ",\"scale\":0}", "scale"},
        {"{" GOOD ",\"mean\":[1,2]}", "mean"},
        {"{" GOOD ",\"std\":[1,0,1]}", "std"},
        {"{" GOOD ",\"colour\":\"rgb\"}", "colour"},
        {"{\"name\":\"t\",\"file\":\"m.pt\",\"input_width\":2,\"input_height\":2,\"output\":\"p\","
         "\"labels\":[\"a\"]}",
         "output"},
        {"{\"name\":\"t\",\"file\":\"m.pt\",\"input_width\":2,\"input_height\":2,"
         "\"output\":\"probs\",\"labels\":[]}",
         "labels"},
        {"{\"name\":\"t\",\"file\":\"m.pt\",\"input_width\":2,\"input_height\":2,"
         "\"output\":\"probs\",\"labels\":[\"a\",3]}",
         "labels"},
        {"{\"name\":\"\",\"file\":\"m.pt\"}", "name"},
        {"{\"name\":\"x\"}", "file"},
        {"{\"name\":", "JSON"},
        {"[1]", "object"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        fw_manifest m;
        char err[256] = "";
        int rc = fw_manifest_parse(cases[i].json, "bad.json", &m, err, sizeof err);
        if (rc != -1 || !strstr(err, cases[i].field) || !strstr(err, "bad.json"))
            fail_msg("case %zu: rc %d, message '%s' should name '%s' and the file", i, rc, err,
                     cases[i].field);
    }
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* fw_model_open: the manifest is checked against the real model with a dry forward. */
static void test_model_validation(void **state)
{
    (void)state;
    fw_model m;
    char err[1024];
    fw_model_params mp = {.device = "cpu", .optimize = 1};
    assert_int_equal(fw_model_open(&m, FW_TEST_MODEL_DIR "/tiny.json", &mp, err, sizeof err), 0);
    assert_int_equal(m.num_classes, 4);
    fw_model_close(&m);

    struct {
        const char *name;
        const char *json;
        const char *must_say;
    } cases[] = {
        {"labels.json",
         "{\"name\":\"t\",\"file\":\"" FW_TEST_MODEL_DIR "/tiny.pt\",\"input_width\":32,"
         "\"input_height\":32,\"output\":\"logits\",\"labels\":[\"a\",\"b\",\"c\"]}",
         "\"labels\" has 3 entries but model"},
        {"size.json",
         "{\"name\":\"t\",\"file\":\"" FW_TEST_MODEL_DIR "/tiny.pt\",\"input_width\":2,"
         "\"input_height\":2,\"output\":\"logits\",\"labels\":[\"a\",\"b\",\"c\",\"d\"]}",
         "input_width"},
        {"missing.json",
         "{\"name\":\"t\",\"file\":\"no-such-model.pt\",\"input_width\":32,"
         "\"input_height\":32,\"output\":\"logits\",\"labels\":[\"a\",\"b\",\"c\",\"d\"]}",
         "no-such-model.pt"},
        {"corrupt.json",
         "{\"name\":\"t\",\"file\":\"" FW_TEST_MODEL_DIR "/corrupt.pt\",\"input_width\":32,"
         "\"input_height\":32,\"output\":\"logits\",\"labels\":[\"a\",\"b\",\"c\",\"d\"]}",
         "corrupt.pt"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char path[512];
        snprintf(path, sizeof path, "%s/%s", FW_TEST_WORK_DIR, cases[i].name);
        write_file(path, cases[i].json);
        err[0] = 0;
        int rc = fw_model_open(&m, path, &mp, err, sizeof err);
        if (rc != -1 || !strstr(err, cases[i].must_say) || strchr(err, '\n'))
            fail_msg("%s: rc %d, message '%s' should say '%s' on one line", cases[i].name, rc, err,
                     cases[i].must_say);
    }
    assert_int_equal(fw_model_open(&m, "/no/such/manifest.json", &mp, err, sizeof err), -1);
    assert_non_null(strstr(err, "/no/such/manifest.json"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_good),
        cmocka_unit_test(test_parse_errors_name_the_field),
        cmocka_unit_test(test_model_validation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
