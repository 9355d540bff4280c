/* fw_answer.h - reading the server's JSON text messages on the client side (docs/protocol.md):
 * hello, config, result, error, dropped, pong, stats. The tools parse with this, so they read the
 * protocol exactly as the server writes it (fw_messages.c).
 *
 * Pure functions: safe from any thread. */
#ifndef FW_ANSWER_H
#define FW_ANSWER_H

#include <stddef.h>
#include <stdint.h>

#include "fw_messages.h"

typedef enum fw_smsg_type {
    FW_SMSG_OTHER = 0, /* a type this client does not know (ignored) */
    FW_SMSG_HELLO,
    FW_SMSG_CONFIG,
    FW_SMSG_RESULT,
    FW_SMSG_ERROR,
    FW_SMSG_DROPPED,
    FW_SMSG_PONG,
    FW_SMSG_STATS,
} fw_smsg_type;

#define FW_ANSWER_LABEL_MAX 64

typedef struct fw_answer_class {
    int index;
    double prob;
    char label[FW_ANSWER_LABEL_MAX]; /* truncated if longer */
} fw_answer_class;

typedef struct fw_answer {
    fw_smsg_type type;
    int has_frame_id; /* result, error with a frame id, dropped */
    uint64_t frame_id;
    uint64_t capture_us; /* result */
    /* result: */
    int ntop;
    fw_answer_class top[FW_TOPK_MAX];
    int has_timing;
    fw_timing timing;
    int64_t server_rx_us, server_tx_us; /* 0 when the server did not send them */
    /* error: code; dropped: reason */
    char code[40];
    /* pong: */
    int64_t client_ts_us, pong_rx_us, pong_tx_us;
    /* hello: */
    int max_inflight;
    char model[128];
} fw_answer;

/* Parses one server message. Returns 0, or -1 with a reason in err (not JSON, no "type", a
 * result without frame_id or top, ...). */
int fw_answer_parse(const char *text, size_t len, fw_answer *out, char *err, size_t errlen);

/* "result", "error", ... */
const char *fw_answer_type_name(fw_smsg_type t);

#endif /* FW_ANSWER_H */
