/* test_frame.c - the binary frame header, the JSON messages and top-k: unit tests. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fw_buf.h"
#include "fw_frame.h"
#include "fw_messages.h"
#include "fw_topk.h"

static const uint8_t jpeg[] = {0xFF, 0xD8, 0xFF, 0xE0, 1, 2, 3};

static void test_roundtrip(void **state)
{
    (void)state;
    uint8_t msg[FW_FRAME_HEADER_LEN + sizeof jpeg];
    fw_frame_write_header(msg, 0x1122334455667788ull, 1700000000000001ull, 5);
    memcpy(msg + FW_FRAME_HEADER_LEN, jpeg, sizeof jpeg);
    fw_frame f;
    assert_int_equal(fw_frame_parse(msg, sizeof msg, &f), FW_OK);
    assert_true(f.has_header);
    assert_true(f.frame_id == 0x1122334455667788ull);
    assert_true(f.capture_us == 1700000000000001ull);
    assert_int_equal(f.flags, 5);
    assert_ptr_equal(f.jpeg, msg + FW_FRAME_HEADER_LEN);
    assert_int_equal(f.jpeg_len, sizeof jpeg);
    /* Little-endian on the wire. */
    assert_int_equal(msg[8], 0x88);
    assert_int_equal(msg[15], 0x11);
}

static void test_bare_jpeg(void **state)
{
    (void)state;
    fw_frame f;
    assert_int_equal(fw_frame_parse(jpeg, sizeof jpeg, &f), FW_OK);
    assert_false(f.has_header);
    assert_ptr_equal(f.jpeg, jpeg);
}

static void test_longer_header_is_skipped(void **state)
{
    (void)state;
    uint8_t msg[32 + sizeof jpeg];
    memset(msg, 0xAB, sizeof msg);
    fw_frame_write_header(msg, 7, 8, 0);
    msg[3] = 32; /* a later version's longer header */
    memcpy(msg + 32, jpeg, sizeof jpeg);
    fw_frame f;
    assert_int_equal(fw_frame_parse(msg, sizeof msg, &f), FW_OK);
    assert_int_equal(f.frame_id, 7);
    assert_int_equal(f.jpeg_len, sizeof jpeg);
}

static void test_errors(void **state)
{
    (void)state;
    fw_frame f;
    uint8_t msg[FW_FRAME_HEADER_LEN + sizeof jpeg];
    assert_int_equal(fw_frame_parse(NULL, 0, &f), FW_ERR_EMPTY_FRAME);
    assert_int_equal(fw_frame_parse(msg, 0, &f), FW_ERR_EMPTY_FRAME);
    assert_int_equal(fw_frame_parse((const uint8_t *)"x", 1, &f), FW_ERR_NOT_JPEG);
    assert_int_equal(fw_frame_parse((const uint8_t *)"F", 1, &f), FW_ERR_BAD_FRAME_HEADER);
    assert_int_equal(fw_frame_parse((const uint8_t *)"\xFF", 1, &f), FW_ERR_NOT_JPEG);

    fw_frame_write_header(msg, 42, 0, 0);
    memcpy(msg + FW_FRAME_HEADER_LEN, jpeg, sizeof jpeg);
    assert_int_equal(fw_frame_parse(msg, FW_FRAME_HEADER_LEN - 1, &f), FW_ERR_BAD_FRAME_HEADER);
    assert_int_equal(fw_frame_parse(msg, FW_FRAME_HEADER_LEN, &f), FW_ERR_EMPTY_FRAME);
    assert_true(f.has_header);
    assert_int_equal(f.frame_id, 42); /* the error can name the frame */
    msg[2] = 2;
    assert_int_equal(fw_frame_parse(msg, sizeof msg, &f), FW_ERR_BAD_FRAME_HEADER);
    msg[2] = 1;
    msg[3] = 10; /* shorter than the fixed fields */
    assert_int_equal(fw_frame_parse(msg, sizeof msg, &f), FW_ERR_BAD_FRAME_HEADER);
    msg[3] = 255; /* beyond the message */
    assert_int_equal(fw_frame_parse(msg, sizeof msg, &f), FW_ERR_BAD_FRAME_HEADER);
    msg[3] = FW_FRAME_HEADER_LEN;
    msg[FW_FRAME_HEADER_LEN] = 0x89;
    assert_int_equal(fw_frame_parse(msg, sizeof msg, &f), FW_ERR_NOT_JPEG);
}

static void test_topk(void **state)
{
    (void)state;
    float v[] = {0.1f, 0.5f, NAN, 0.5f, 0.3f};
    fw_class_score s[5];
    assert_int_equal(fw_topk(v, 5, 3, s), 3);
    assert_int_equal(s[0].index, 1); /* ties: lower index first */
    assert_int_equal(s[1].index, 3);
    assert_int_equal(s[2].index, 4);
    assert_int_equal(fw_topk(v, 5, 10, s), 5);
    assert_int_equal(s[4].index, 2); /* NaN last */
    assert_int_equal(fw_topk(v, 5, 0, s), 0);

    float l[] = {1000.0f, 1000.0f, -1000.0f};
    fw_softmax(l, 3);
    assert_float_equal(l[0], 0.5f, 1e-6f);
    assert_float_equal(l[2], 0.0f, 1e-6f);
}

static void test_messages(void **state)
{
    (void)state;
    fw_class_score sc[2] = {{2, 0.75f}, {0, 0.25f}};
    const char *labels[] = {"a", "b", "c\"quote"};
    fw_timing t = {.queue_us = 1,
                   .decode_us = 2,
                   .preprocess_us = 3,
                   .infer_us = 4,
                   .total_us = 10,
                   .batch_size = 2};
    fw_outmsg *m = fw_msg_result(18446744073709551615ull, 1700000000000001ull, sc, 2, labels, &t,
                                 1700000000000100, 1700000000000200);
    assert_non_null(m);
    /* u64 values travel exactly, not through a double. */
    assert_non_null(strstr((char *)m->payload, "\"frame_id\":18446744073709551615"));
    assert_non_null(strstr((char *)m->payload, "\"capture_ts_us\":1700000000000001"));
    assert_non_null(strstr((char *)m->payload, "\"server_rx_ts_us\":1700000000000100"));
    assert_non_null(strstr((char *)m->payload, "\"server_tx_ts_us\":1700000000000200"));
    assert_int_equal(m->kind, FW_ANS_RESULT);
    assert_true(m->frame_id == 18446744073709551615ull);
    assert_int_equal(m->timing.batch_size, 2);
    cJSON *j = cJSON_Parse((char *)m->payload);
    assert_non_null(j);
    const cJSON *top = cJSON_GetObjectItemCaseSensitive(j, "top");
    assert_string_equal(
        cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(top, 0), "label")->valuestring,
        "c\"quote");
    cJSON_Delete(j);
    fw_outmsg_free(m);

    m = fw_msg_error(0, 0, FW_ERR_BAD_MESSAGE, "bad\nthing");
    j = cJSON_Parse((char *)m->payload);
    assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(j, "frame_id")));
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(j, "code")->valuestring, "bad_message");
    cJSON_Delete(j);
    fw_outmsg_free(m);

    fw_client_msg cm;
    char err[128];
    assert_int_equal(
        fw_client_msg_parse("{\"type\":\"config\",\"top_k\":3}", 27, &cm, err, sizeof err), 0);
    assert_int_equal(cm.top_k, 3);
    const char *bad[] = {"",
                         "{",
                         "[]",
                         "{\"type\":1}",
                         "{\"type\":\"config\",\"top_k\":1.5}",
                         "{\"type\":\"config\",\"top_k\":101}",
                         "{\"type\":\"config\",\"x\":1}"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        err[0] = 0;
        assert_int_equal(fw_client_msg_parse(bad[i], strlen(bad[i]), &cm, err, sizeof err), -1);
        assert_true(strlen(err) > 0);
    }
    assert_string_equal(fw_error_name(FW_ERR_JPEG_TRUNCATED), "truncated_jpeg");

    /* config with policy and freshness budget; ping */
    const char *cfg = "{\"type\":\"config\",\"policy\":\"lossless\",\"max_age_ms\":250}";
    assert_int_equal(fw_client_msg_parse(cfg, strlen(cfg), &cm, err, sizeof err), 0);
    assert_int_equal(cm.policy, FW_POLICY_LOSSLESS);
    assert_int_equal(cm.max_age_ms, 250);
    assert_int_equal(cm.top_k, 0);
    const char *ping = "{\"type\":\"ping\",\"client_ts_us\":1764790000123456}";
    assert_int_equal(fw_client_msg_parse(ping, strlen(ping), &cm, err, sizeof err), 0);
    assert_int_equal(cm.type, FW_CMSG_PING);
    assert_true(cm.client_ts_us == 1764790000123456LL);
    const char *bad2[] = {"{\"type\":\"config\",\"policy\":\"fast\"}",
                          "{\"type\":\"config\",\"max_age_ms\":-1}", "{\"type\":\"ping\"}",
                          "{\"type\":\"ping\",\"client_ts_us\":\"now\"}"};
    for (size_t i = 0; i < sizeof bad2 / sizeof *bad2; i++)
        assert_int_equal(fw_client_msg_parse(bad2[i], strlen(bad2[i]), &cm, err, sizeof err), -1);

    m = fw_msg_dropped(7, FW_ANS_DROPPED_STALE);
    assert_non_null(strstr((char *)m->payload, "\"reason\":\"stale\""));
    assert_int_equal(m->kind, FW_ANS_DROPPED_STALE);
    fw_outmsg_free(m);
    m = fw_msg_pong(-5, 10, 11);
    assert_non_null(strstr((char *)m->payload, "\"client_ts_us\":-5"));
    assert_int_equal(m->kind, FW_ANS_NONE);
    fw_outmsg_free(m);
    assert_string_equal(fw_error_name((fw_err)999), "unknown");
}

/* The reassembly buffer: grows, keeps a NUL after the data, refuses past its cap unchanged. */
static void test_buf(void **state)
{
    (void)state;
    fw_buf b = {0};
    char chunk[3000];
    memset(chunk, 'x', sizeof chunk);
    for (int i = 0; i < 3; i++)
        assert_int_equal(fw_buf_append(&b, chunk, sizeof chunk, 10000), 0);
    assert_int_equal(b.len, 9000);
    assert_int_equal(b.data[9000], 0);
    assert_int_equal(fw_buf_append(&b, chunk, sizeof chunk, 10000), -1);
    assert_int_equal(b.len, 9000);
    assert_int_equal(fw_buf_append(&b, chunk, 1000, 10000), 0);
    assert_int_equal(b.len, 10000);
    assert_int_equal(fw_buf_append(&b, NULL, 0, 10000), 0);
    uint8_t *d = fw_buf_take(&b);
    assert_non_null(d);
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    free(d);
    assert_int_equal(fw_buf_append(&b, NULL, 0, 10), 0); /* an empty message still has data */
    assert_non_null(b.data);
    fw_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_bare_jpeg),
        cmocka_unit_test(test_longer_header_is_skipped),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_topk),
        cmocka_unit_test(test_messages),
        cmocka_unit_test(test_buf),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
