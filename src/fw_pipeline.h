/* fw_pipeline.h - the work behind the socket: decode workers and one inference thread.
 *
 * DESIGN
 * Jobs (one received frame each, owning its bytes) enter a bounded FIFO. Decode workers take them
 * in order, and each claims the next slot of a ring of preprocessed inputs: one contiguous float
 * array of `ring_slots` model inputs. The worker decodes and preprocesses straight into its slot.
 * The inference thread takes the longest run of consecutive ready slots from the ring's head (up
 * to max_batch, never wrapping), runs them as one batch straight from the ring, and frees them. A
 * slot whose decode failed becomes an error answer in its place. So answers leave in submission
 * order, and every job gets exactly one answer message (result or error).
 * Answers are fw_outmsg addressed by (session slot, generation): never a wsi. The service thread
 * takes them with fw_pipeline_take_results() after the `notify` callback (lws_cancel_service)
 * wakes it.
 * The model is loaded, optimised and run on the inference thread itself.
 *
 * Threads: fw_pipeline_start/stop on the owner (main) thread; submit and take_results on the
 * lws service thread; the rest is internal. */
#ifndef FW_PIPELINE_H
#define FW_PIPELINE_H

#include <stddef.h>
#include <stdint.h>

#include "fw_decode.h"
#include "fw_messages.h"

typedef struct fw_pipeline fw_pipeline;

typedef struct fw_pipeline_config {
    const char *manifest_path;
    const char *device; /* "cpu", "cuda", ... */
    int optimize;       /* freeze + optimize_for_inference at load */
    int decode_threads; /* >= 1 */
    int max_batch;      /* >= 1 */
    int torch_threads;  /* libtorch intra-op threads; 0 = libtorch's default */
    int queue_capacity; /* jobs waiting for a decode worker, >= 1 */
    fw_decode_limits limits;
    /* Called from pipeline threads after answers were queued; must be thread-safe and cheap
     * (the server passes lws_cancel_service). May be NULL. */
    void (*notify)(void *user);
    void *notify_user;
} fw_pipeline_config;

typedef struct fw_job {
    struct fw_job *next; /* internal */
    uint32_t slot, gen;  /* the session it answers to */
    uint64_t frame_id;
    uint64_t capture_us;
    int top_k;
    int64_t arrival_us;  /* fw_now_us() when the whole message had arrived */
    uint8_t *buf;        /* owned: freed with the job */
    const uint8_t *jpeg; /* points into buf */
    size_t jpeg_len;
} fw_job;

/* What the service thread may read about the model (constant after start). */
typedef struct fw_model_info {
    const char *name;
    int input_width, input_height;
    int num_labels;
    const char *output_kind;
    const char *device;
} fw_model_info;

/* Starts the threads, loads and validates the model on the inference thread and waits for it.
 * Returns the pipeline, or NULL with one line in err (bad manifest, model, device, ...). */
fw_pipeline *fw_pipeline_start(const fw_pipeline_config *cfg, char *err, size_t errlen);

const fw_model_info *fw_pipeline_model(const fw_pipeline *p);

/* Hands a job to the pipeline. FW_OK: the pipeline owns it and will answer it exactly once.
 * FW_ERR_OVERLOADED: the queue is full; the caller still owns the job. */
fw_err fw_pipeline_submit(fw_pipeline *p, fw_job *job);

/* Takes every answer queued so far, as a list in order (NULL when none). The caller owns it. */
fw_outmsg *fw_pipeline_take_results(fw_pipeline *p);

/* Stops and joins the threads; frees unanswered jobs, queued answers and the model. */
void fw_pipeline_stop(fw_pipeline *p);

void fw_job_free(fw_job *job);

#endif /* FW_PIPELINE_H */
