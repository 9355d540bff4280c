/* fw_messages.h - the JSON text messages of framewire's WebSocket protocol (docs/protocol.md):
 * building the server's messages into ready-to-send buffers, and parsing the client's.
 *
 * Every message the server sends is an fw_outmsg: one allocation with the headroom lws needs in
 * front of the payload, so it can be handed to lws_write() as is. Builders are pure: safe from any
 * thread (results are built on the inference thread, the rest on the service thread). */
#ifndef FW_MESSAGES_H
#define FW_MESSAGES_H

#include <stddef.h>
#include <stdint.h>

#include "fw_error.h"
#include "fw_topk.h"

#define FW_PROTOCOL_NAME "framewire.v1"
#define FW_PROTOCOL_VERSION 1
#define FW_TOPK_MAX 100

typedef struct fw_outmsg {
    struct fw_outmsg *next; /* owner's queue link */
    uint32_t slot, gen;     /* destination session (see fw_sessions.h) */
    int is_result;          /* 1 when this answers a submitted frame (for in-flight accounting) */
    size_t len;             /* payload bytes */
    unsigned char *payload; /* points into data, after the lws headroom */
    unsigned char data[];
} fw_outmsg;

/* Copies len bytes of text into a new fw_outmsg. NULL when out of memory. */
fw_outmsg *fw_outmsg_new(const char *text, size_t len);
void fw_outmsg_free(fw_outmsg *m);

typedef struct fw_hello_info {
    const char *server_version;
    const char *model_name;
    int input_width, input_height;
    int num_labels;
    const char *output_kind; /* "probs" or "logits" */
    const char *device;
    uint64_t session_id;
    int top_k; /* the session's current k */
    size_t max_message_bytes;
    uint64_t max_pixels;
    int max_inflight;
} fw_hello_info;

typedef struct fw_timing {
    int64_t queue_us; /* arrival to start of decode */
    int64_t decode_us;
    int64_t preprocess_us;
    int64_t wait_us;  /* preprocessed, waiting for the inference thread */
    int64_t infer_us; /* the batch's forward */
    int64_t total_us; /* arrival to result built */
    int batch_size;
} fw_timing;

fw_outmsg *fw_msg_hello(const fw_hello_info *h);

/* A result: scores[0..n) with labels[scores[i].index]. */
fw_outmsg *fw_msg_result(uint64_t frame_id, uint64_t capture_us, const fw_class_score *scores,
                         int n, const char *const *labels, const fw_timing *t);

/* An error; frame_id is included when has_frame_id. */
fw_outmsg *fw_msg_error(int has_frame_id, uint64_t frame_id, fw_err code, const char *message);

/* The answer to a config message: the session's settings now in force. */
fw_outmsg *fw_msg_config(int top_k);

/* A parsed client text message. */
typedef enum fw_client_msg_type { FW_CMSG_CONFIG = 1 } fw_client_msg_type;

typedef struct fw_client_msg {
    fw_client_msg_type type;
    int top_k; /* config: 0 when absent */
} fw_client_msg;

/* Parses one client text message. Returns 0, or -1 with a readable message in err (not JSON,
 * not an object, unknown "type", unknown or ill-typed field). */
int fw_client_msg_parse(const char *text, size_t len, fw_client_msg *out, char *err, size_t errlen);

#endif /* FW_MESSAGES_H */
