/* fw_answer.c - parse the server's JSON messages on the client side (see fw_answer.h). */
#include "fw_answer.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const names[] = {"other", "hello",   "config", "result",
                                    "error", "dropped", "pong",   "stats"};

const char *fw_answer_type_name(fw_smsg_type t)
{
    return (unsigned)t < sizeof names / sizeof names[0] ? names[t] : "other";
}

/* A non-negative integer field (JSON numbers are doubles: exact up to 2^53). */
static int get_u64(const cJSON *o, const char *key, uint64_t *v)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsNumber(it) || it->valuedouble < 0)
        return -1;
    *v = (uint64_t)it->valuedouble;
    return 0;
}

static int64_t get_i64(const cJSON *o, const char *key)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(it) ? (int64_t)it->valuedouble : 0;
}

static void get_str(const cJSON *o, const char *key, char *out, size_t cap)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, key);
    snprintf(out, cap, "%s", cJSON_IsString(it) ? it->valuestring : "");
}

static int parse_result(const cJSON *root, fw_answer *a, char *err, size_t errlen)
{
    if (get_u64(root, "frame_id", &a->frame_id) != 0) {
        snprintf(err, errlen, "result without a numeric frame_id");
        return -1;
    }
    a->has_frame_id = 1;
    uint64_t cap = 0;
    get_u64(root, "capture_ts_us", &cap);
    a->capture_us = cap;
    const cJSON *top = cJSON_GetObjectItemCaseSensitive(root, "top");
    if (!cJSON_IsArray(top)) {
        snprintf(err, errlen, "result without a \"top\" array");
        return -1;
    }
    const cJSON *e;
    cJSON_ArrayForEach(e, top)
    {
        if (a->ntop == FW_TOPK_MAX)
            break;
        const cJSON *idx = cJSON_GetObjectItemCaseSensitive(e, "index");
        const cJSON *prob = cJSON_GetObjectItemCaseSensitive(e, "prob");
        if (!cJSON_IsNumber(idx) || !cJSON_IsNumber(prob)) {
            snprintf(err, errlen, "result \"top\" entry without index and prob");
            return -1;
        }
        fw_answer_class *c = &a->top[a->ntop++];
        c->index = idx->valueint;
        c->prob = prob->valuedouble;
        get_str(e, "label", c->label, sizeof c->label);
    }
    const cJSON *tm = cJSON_GetObjectItemCaseSensitive(root, "timing_us");
    if (cJSON_IsObject(tm)) {
        a->has_timing = 1;
        a->timing.queue_us = get_i64(tm, "queue");
        a->timing.decode_us = get_i64(tm, "decode");
        a->timing.preprocess_us = get_i64(tm, "preprocess");
        a->timing.wait_us = get_i64(tm, "wait");
        a->timing.infer_us = get_i64(tm, "infer");
        a->timing.total_us = get_i64(tm, "total");
    }
    a->timing.batch_size = (int)get_i64(root, "batch");
    a->server_rx_us = get_i64(root, "server_rx_ts_us");
    a->server_tx_us = get_i64(root, "server_tx_ts_us");
    return 0;
}

int fw_answer_parse(const char *text, size_t len, fw_answer *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    cJSON *root = cJSON_ParseWithLength(text, len);
    if (!root) {
        snprintf(err, errlen, "server message is not JSON");
        return -1;
    }
    int rc = -1;
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(root, "type");
    if (!cJSON_IsObject(root) || !cJSON_IsString(type)) {
        snprintf(err, errlen, "server message without a string \"type\"");
        goto done;
    }
    const char *t = type->valuestring;
    rc = 0;
    if (strcmp(t, "result") == 0) {
        out->type = FW_SMSG_RESULT;
        rc = parse_result(root, out, err, errlen);
    } else if (strcmp(t, "error") == 0) {
        out->type = FW_SMSG_ERROR;
        out->has_frame_id = get_u64(root, "frame_id", &out->frame_id) == 0;
        get_str(root, "code", out->code, sizeof out->code);
    } else if (strcmp(t, "dropped") == 0) {
        out->type = FW_SMSG_DROPPED;
        out->has_frame_id = get_u64(root, "frame_id", &out->frame_id) == 0;
        get_str(root, "reason", out->code, sizeof out->code);
        if (!out->has_frame_id) {
            snprintf(err, errlen, "dropped without a frame_id");
            rc = -1;
        }
    } else if (strcmp(t, "pong") == 0) {
        out->type = FW_SMSG_PONG;
        out->client_ts_us = get_i64(root, "client_ts_us");
        out->pong_rx_us = get_i64(root, "server_rx_ts_us");
        out->pong_tx_us = get_i64(root, "server_tx_ts_us");
    } else if (strcmp(t, "hello") == 0) {
        out->type = FW_SMSG_HELLO;
        const cJSON *lim = cJSON_GetObjectItemCaseSensitive(root, "limits");
        out->max_inflight = (int)get_i64(lim, "max_inflight");
        const cJSON *model = cJSON_GetObjectItemCaseSensitive(root, "model");
        get_str(model, "name", out->model, sizeof out->model);
    } else if (strcmp(t, "config") == 0) {
        out->type = FW_SMSG_CONFIG;
    } else if (strcmp(t, "stats") == 0) {
        out->type = FW_SMSG_STATS;
    } else {
        out->type = FW_SMSG_OTHER;
    }
done:
    cJSON_Delete(root);
    return rc;
}
