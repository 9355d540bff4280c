/* fw_pipeline.h - the work behind the socket: decode workers and inference threads.
 *
 * DESIGN
 * Jobs (one received frame each, owning its bytes) wait in one FIFO. A session in realtime mode has
 * at most one waiting job: a newer frame takes the older one's place in the FIFO and the older one
 * is handed back to the caller as superseded (latest frame wins). Decode workers take jobs in FIFO
 * order; a job whose freshness deadline has passed is answered `dropped: stale` without decoding.
 * Otherwise the worker claims the next slot of a ring of preprocessed inputs (one contiguous float
 * array) and decodes and preprocesses straight into it; at most (infer_threads + 1) x max_batch
 * slots are claimed at once (a batch per inference thread, the next being prepared), so frames
 * beyond that wait in the FIFO where they can still be superseded. Latest frame wins in the ring
 * too: while a batch runs, a worker with nothing else to do takes a realtime session's newer frame
 * from the FIFO and decodes it into the slot of that session's prepared frame (the newest one, so
 * answers stay in frame order), answering the prepared one `dropped: superseded`, as long as the
 * first running batch to end (recent forward time at its batch size) leaves time for the decode
 * (recent decode time). So under overload a batch starts with frames at most about one frame
 * interval old rather than a whole batch time. An inference thread takes the longest run of
 * consecutive ready slots at the ring's next untaken slot (up to max_batch, never wrapping),
 * waiting up to max_delay_us after that slot became ready for more to join while more are on the
 * way (the other inference threads wait meanwhile), and runs them as one batch straight from the
 * ring. With several inference threads, batches run side by side, each thread on its own copy of
 * the model, and may finish out of order: a finished batch keeps its answers in the ring until
 * every batch before it has finished, so answers still leave in ring order, and slots are freed
 * from the head. A slot whose decode failed becomes an error answer in its place. So every job
 * gets exactly one answer message (result, error or dropped), and results and decode errors leave
 * in submission order.
 * Answers are fw_outmsg addressed by (session slot, generation): never a wsi. The service thread
 * takes them with fw_pipeline_take_results() after the `notify` callback (lws_cancel_service)
 * wakes it.
 * Each inference thread loads, optimises, warms up and runs its own copy of the model.
 *
 * Threads: fw_pipeline_start/stop on the owner (main) thread; submit, cancel_session,
 * queue_depth and take_results on the lws service thread; the rest is internal. */
#ifndef FW_PIPELINE_H
#define FW_PIPELINE_H

#include <stddef.h>
#include <stdint.h>

#include "fw_decode.h"
#include "fw_messages.h"

typedef struct fw_pipeline fw_pipeline;

typedef struct fw_pipeline_config {
    const char *manifest_path;
    const char *device;   /* "cpu", "cuda", ... */
    int optimize;         /* freeze + optimize_for_inference at load */
    int decode_threads;   /* >= 1 */
    int infer_threads;    /* >= 1: batches run side by side, one model copy per thread */
    int max_batch;        /* >= 1 */
    int torch_threads;    /* libtorch intra-op threads; 0 = libtorch's default */
    int queue_capacity;   /* jobs waiting for a decode worker, all sessions, >= 1 */
    int max_sessions;     /* session slots are 0 .. max_sessions-1 */
    int64_t max_delay_us; /* longest wait for a batch to fill, 0 = never wait */
    fw_decode_limits limits;
    /* Called from pipeline threads after answers were queued; must be thread-safe and cheap
     * (the server passes lws_cancel_service). May be NULL. */
    void (*notify)(void *user);
    void *notify_user;
} fw_pipeline_config;

typedef struct fw_job {
    struct fw_job *next, *prev; /* internal */
    uint32_t slot, gen;         /* the session it answers to */
    uint64_t frame_id;
    uint64_t capture_us;
    int top_k;
    int latest_wins;         /* internal: set by fw_pipeline_submit */
    int64_t arrival_us;      /* fw_now_us() when the whole message had arrived */
    int64_t arrival_wall_us; /* fw_wall_us() at the same moment */
    int64_t stale_at_us;     /* fw_now_us() after which it is dropped as stale; 0 = never */
    uint8_t *buf;            /* owned: freed with the job */
    const uint8_t *jpeg;     /* points into buf */
    size_t jpeg_len;
} fw_job;

/* What the service thread may read about the model (constant after start). */
typedef struct fw_model_info {
    const char *name;
    int input_width, input_height;
    int num_labels;
    const char *const *labels; /* num_labels of them */
    const char *output_kind;
    const char *device;
} fw_model_info;

/* Starts the threads, loads and validates the model on each inference thread and waits for them.
 * Returns the pipeline, or NULL with one line in err (bad manifest, model, device, ...). */
fw_pipeline *fw_pipeline_start(const fw_pipeline_config *cfg, char *err, size_t errlen);

const fw_model_info *fw_pipeline_model(const fw_pipeline *p);

/* Hands a job to the pipeline. FW_OK: the pipeline owns it and will answer it exactly once.
 * With latest_wins, a job of the same session (slot and gen) still waiting for a decode worker is
 * replaced by this one, in its place in the FIFO, and returned in *superseded (the caller owns it
 * and must answer it); otherwise *superseded is NULL. A latest_wins job may also, later, replace
 * its session's prepared frame in the ring (see DESIGN); that one is answered by the pipeline,
 * `dropped: superseded`, through the answer list. FW_ERR_OVERLOADED: the FIFO is full; the caller
 * still owns the job. */
fw_err fw_pipeline_submit(fw_pipeline *p, fw_job *job, int latest_wins, fw_job **superseded);

/* Frees the jobs of session (slot, gen) that still wait for a decode worker (its connection has
 * closed: nobody will read their answers). Returns how many. */
int fw_pipeline_cancel_session(fw_pipeline *p, uint32_t slot, uint32_t gen);

/* Jobs waiting for a decode worker, and frames claimed in the ring (decoding or waiting for or in
 * inference). */
void fw_pipeline_depth(fw_pipeline *p, int *queued, int *in_ring);

/* Takes every answer queued so far, as a list in order (NULL when none). The caller owns it. */
fw_outmsg *fw_pipeline_take_results(fw_pipeline *p);

/* Stops and joins the threads; frees unanswered jobs, queued answers and the model. */
void fw_pipeline_stop(fw_pipeline *p);

void fw_job_free(fw_job *job);

#endif /* FW_PIPELINE_H */
