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

/* What a server message is, for accounting (stats, metrics, in-flight counts). */
typedef enum fw_answer_kind {
    FW_ANS_NONE = 0,           /* not an answer to a frame: hello, config, pong, stats, ... */
    FW_ANS_RESULT,             /* a result */
    FW_ANS_ERROR,              /* an error answering a frame */
    FW_ANS_DROPPED_SUPERSEDED, /* dropped: a newer frame of the same session replaced it */
    FW_ANS_DROPPED_STALE,      /* dropped: older than the session's freshness budget */
    FW_ANS_DROPPED_SHUTDOWN,   /* dropped: the server is shutting down */
    FW_ANS__COUNT
} fw_answer_kind;

typedef struct fw_timing {
    int64_t queue_us; /* arrival to start of decode */
    int64_t decode_us;
    int64_t preprocess_us;
    int64_t wait_us;  /* preprocessed, waiting for the inference thread */
    int64_t infer_us; /* the batch's forward */
    int64_t total_us; /* arrival to result built */
    int batch_size;
} fw_timing;

typedef struct fw_outmsg {
    struct fw_outmsg *next; /* owner's queue link */
    uint32_t slot, gen;     /* destination session (see fw_sessions.h) */
    fw_answer_kind kind;    /* which answer, if it answers a frame */
    uint64_t frame_id;      /* the frame it answers (kind != FW_ANS_NONE) */
    fw_timing timing;       /* results only */
    size_t len;             /* payload bytes */
    unsigned char *payload; /* points into data, after the lws headroom */
    unsigned char data[];
} fw_outmsg;

/* Copies len bytes of text into a new fw_outmsg (kind FW_ANS_NONE). NULL when out of memory. */
fw_outmsg *fw_outmsg_new(const char *text, size_t len);
void fw_outmsg_free(fw_outmsg *m);

typedef enum fw_policy { FW_POLICY_REALTIME = 0, FW_POLICY_LOSSLESS = 1 } fw_policy;

/* "realtime" / "lossless" */
const char *fw_policy_name(fw_policy p);

typedef struct fw_hello_info {
    const char *server_version;
    const char *model_name;
    int input_width, input_height;
    int num_labels;
    const char *output_kind; /* "probs" or "logits" */
    const char *device;
    uint64_t session_id;
    int top_k;        /* the session's current k */
    fw_policy policy; /* the session's policy */
    int max_age_ms;   /* the session's freshness budget, 0 = none */
    int stats_interval_ms;
    size_t max_message_bytes;
    uint64_t max_pixels;
    int max_inflight;
} fw_hello_info;

fw_outmsg *fw_msg_hello(const fw_hello_info *h);

/* A result (kind FW_ANS_RESULT, timing copied): scores[0..n) with labels[scores[i].index].
 * rx_wall_us/tx_wall_us: the server's wall clock when the frame had arrived and when the result
 * was built. */
fw_outmsg *fw_msg_result(uint64_t frame_id, uint64_t capture_us, const fw_class_score *scores,
                         int n, const char *const *labels, const fw_timing *t, int64_t rx_wall_us,
                         int64_t tx_wall_us);

/* An error; frame_id is included (and kind is FW_ANS_ERROR) when has_frame_id. */
fw_outmsg *fw_msg_error(int has_frame_id, uint64_t frame_id, fw_err code, const char *message);

/* A dropped notice; kind is one of the FW_ANS_DROPPED_* values. */
fw_outmsg *fw_msg_dropped(uint64_t frame_id, fw_answer_kind kind);

/* The answer to a clock-sync ping (server wall clock in microseconds). */
fw_outmsg *fw_msg_pong(int64_t client_ts_us, int64_t server_rx_us, int64_t server_tx_us);

typedef struct fw_stats_info {
    int window_ms;
    double fps_in, fps_out;
    int64_t server_p50_us, server_p99_us; /* -1 when no result in the window */
    uint64_t frames, results, errors, dropped_superseded, dropped_stale;
} fw_stats_info;

fw_outmsg *fw_msg_stats(const fw_stats_info *st);

/* The answer to a config message: the session's settings now in force. */
fw_outmsg *fw_msg_config(int top_k, fw_policy policy, int max_age_ms);

/* A parsed client text message. */
typedef enum fw_client_msg_type { FW_CMSG_CONFIG = 1, FW_CMSG_PING } fw_client_msg_type;

typedef struct fw_client_msg {
    fw_client_msg_type type;
    int top_k;            /* config: 0 when absent */
    int policy;           /* config: -1 when absent, else an fw_policy */
    int max_age_ms;       /* config: -1 when absent, else 0 (off) .. 3600000 */
    int64_t client_ts_us; /* ping */
} fw_client_msg;

/* Parses one client text message. Returns 0, or -1 with a readable message in err (not JSON,
 * not an object, unknown "type", unknown or ill-typed field). */
int fw_client_msg_parse(const char *text, size_t len, fw_client_msg *out, char *err, size_t errlen);

#endif /* FW_MESSAGES_H */
