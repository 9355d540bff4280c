/* test_model_errors.c - the real framewire binary refuses a model it cannot serve: it exits
 * non-zero and prints exactly one line that names the problem (the file or the manifest field).
 *
 * Cases: the manifest's model file is missing; the file is not TorchScript (a truncated one);
 * the manifest's input size does not fit the model (the tiny model, and the converted nsfwjs
 * model, whose own input check names the size it takes); the manifest has more or fewer labels
 * than the model has outputs; the manifest itself is missing. Each case's manifest is written
 * into the test's work folder. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "test_util.h"

#define TINY FW_TEST_MODEL_DIR "/tiny.pt"
#define NSFW FW_NSFW_MODEL_DIR "/model.pt"
#define LABELS4 "\"labels\":[\"a\",\"b\",\"c\",\"d\"]"
#define LABELS5 "\"labels\":[\"a\",\"b\",\"c\",\"d\",\"e\"]"

/* Lines of text with at least one visible character. */
static int count_lines(const char *s)
{
    int n = 0, visible = 0;
    for (; *s; s++) {
        if (*s == '\n') {
            n += visible;
            visible = 0;
        } else if (*s != ' ' && *s != '\r' && *s != '\t') {
            visible = 1;
        }
    }
    return n + visible;
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
}

static void test_refusals_name_the_problem(void **state)
{
    (void)state;
    struct {
        const char *name, *json, *must_say, *must_say_too;
    } cases[] = {
        {"missing_file.json",
         "{\"name\":\"t\",\"file\":\"no-such-model.pt\",\"input_width\":32,\"input_height\":32,"
         "\"output\":\"logits\"," LABELS4 "}",
         "no-such-model.pt", "No such file"},
        {"corrupt.json",
         "{\"name\":\"t\",\"file\":\"" FW_TEST_MODEL_DIR "/corrupt.pt\",\"input_width\":32,"
         "\"input_height\":32,\"output\":\"logits\"," LABELS4 "}",
         "corrupt.pt", "cannot load model"},
        {"tiny_size.json",
         "{\"name\":\"t\",\"file\":\"" TINY "\",\"input_width\":2,\"input_height\":2,"
         "\"output\":\"logits\"," LABELS4 "}",
         "\"input_width\"/\"input_height\" (2x2)", "tiny.pt"},
        {"tiny_labels.json",
         "{\"name\":\"t\",\"file\":\"" TINY "\",\"input_width\":32,\"input_height\":32,"
         "\"output\":\"logits\",\"labels\":[\"a\",\"b\",\"c\"]}",
         "\"labels\" has 3 entries", "outputs 4 values"},
        {"nsfw_size.json",
         "{\"name\":\"t\",\"file\":\"" NSFW "\",\"input_width\":200,\"input_height\":224,"
         "\"output\":\"probs\"," LABELS5 "}",
         "\"input_width\"/\"input_height\" (200x224)", "takes input [N, 3, 224, 224]"},
        {"nsfw_labels.json",
         "{\"name\":\"t\",\"file\":\"" NSFW "\",\"input_width\":224,\"input_height\":224,"
         "\"output\":\"probs\",\"labels\":[\"a\",\"b\",\"c\",\"d\",\"e\",\"f\"]}",
         "\"labels\" has 6 entries", "outputs 5 values"},
    };
    char out[8192];
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char path[512];
        snprintf(path, sizeof path, "%s/%s", FW_TEST_WORK_DIR, cases[i].name);
        write_file(path, cases[i].json);
        const char *args[] = {"--model", path, NULL};
        int rc = tu_server_run_to_exit(args, out, sizeof out, 120000);
        if (rc <= 0 || !strstr(out, cases[i].must_say) || !strstr(out, cases[i].must_say_too) ||
            count_lines(out) != 1)
            fail_msg("%s: exit %d; expected one line with '%s' and '%s', got: %s", cases[i].name,
                     rc, cases[i].must_say, cases[i].must_say_too, out);
        printf("  %s: exit %d: %s", cases[i].name, rc, out);
    }
    const char *args[] = {"--model", FW_TEST_WORK_DIR "/no-such-manifest.json", NULL};
    int rc = tu_server_run_to_exit(args, out, sizeof out, 60000);
    if (rc <= 0 || !strstr(out, "no-such-manifest.json") || count_lines(out) != 1)
        fail_msg("missing manifest: exit %d, output: %s", rc, out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_refusals_name_the_problem),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
