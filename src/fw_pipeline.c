/* fw_pipeline.c - decode workers, the ring of preprocessed inputs, and the inference threads.
 * See the DESIGN comment in fw_pipeline.h. */
#include "fw_pipeline.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fw_model.h"
#include "fw_preprocess.h"
#include "fw_time.h"

/* FREE -> FILLING (a decode worker) -> READY or FAILED -> INFER (taken into a batch by an
 * inference thread) -> DONE (answered; waits for the slots before it) -> FREE. */
enum slot_state { SLOT_FREE, SLOT_FILLING, SLOT_READY, SLOT_FAILED, SLOT_INFER, SLOT_DONE };

/* One model input in the ring. `state`, `ans_head` and `ans_tail` are guarded by {lock}; the
 * other fields and the slot's floats belong to the decode worker while FILLING, and to the
 * inference thread that took the slot while INFER. */
struct slot {
    enum slot_state state;
    fw_job *job;
    fw_err err;
    char msg[192];
    int64_t decode_start_us, decode_end_us, preprocess_end_us;
    /* DONE, on the first slot of a batch: the batch's answers, pushed once every slot before it
     * is answered too (batches may finish out of order; answers leave in ring order). */
    fw_outmsg *ans_head, *ans_tail;
};

struct fw_pipeline {
    /* Constant after fw_pipeline_start returns: any thread may read. */
    fw_pipeline_config cfg;
    fw_model_info info;
    char *model_name;
    char *device;
    fw_preproc pre;
    int min_w, min_h;   /* smallest decoded size the preprocessing needs */
    size_t item_floats; /* 3 * H * W */
    int ring_slots;
    int ring_limit; /* most slots claimed at once: a batch per inference thread, one prepared */
    float *ring;    /* ring_slots * item_floats */
    struct slot *slots;
    fw_decoder **decoders; /* one per worker, used only by that worker */

    pthread_mutex_t lock;    /* {lock} guards the fields below up to res_lock */
    pthread_cond_t work_cv;  /* workers: a job is queued and a slot is free, or stop */
    pthread_cond_t ready_cv; /* inference: the slot at `take` is ready or failed, or stop */
    pthread_cond_t start_cv; /* fw_pipeline_start: the model is loaded or failed */
    fw_job *q_head, *q_tail; /* FIFO of jobs waiting for a decode worker (doubly linked) */
    int q_len;
    fw_job **waiting;    /* [max_sessions]: a session's job in the FIFO (latest wins) */
    uint64_t head, tail; /* ring: slots [head, tail) are claimed */
    uint64_t take;       /* [head, take) are taken by inference (INFER or DONE), [take, tail) not */
    int forming;         /* an inference thread is waiting for a batch to fill at `take` */
    int64_t *infer_until_us; /* [infer_threads]: when its running batch should end; 0 = idle */
    int64_t *batch_est_us;   /* [max_batch + 1]: recent forward time by batch size, 0 = unknown */
    int64_t fill_est_us;     /* recent decode + preprocess time of one frame */
    int stop;
    int model_state;  /* 0 loading, 1 ready (every inference thread), -1 failed */
    int models_ready; /* inference threads with their model loaded and warmed up */
    char model_err[1024];

    /* {load_lock}: one inference thread at a time loads and warms up its model (libtorch's
     * loader is not safe to run on two threads at once: ThreadSanitizer saw a race inside
     * torch::jit::load). */
    pthread_mutex_t load_lock;

    pthread_mutex_t res_lock; /* {res_lock} guards the answer list */
    fw_outmsg *res_head, *res_tail;

    pthread_t *workers;
    int workers_started;
    pthread_t *infer; /* [infer_threads] */
    int infer_started;
};

struct infer_arg {
    fw_pipeline *p;
    int index;
};

void fw_job_free(fw_job *job)
{
    if (!job)
        return;
    free(job->buf);
    free(job);
}

/* Appends [head, tail] to the answer list, without waking the service thread. */
static void enqueue_results(fw_pipeline *p, fw_outmsg *head, fw_outmsg *tail)
{
    if (!head)
        return;
    pthread_mutex_lock(&p->res_lock);
    if (p->res_tail)
        p->res_tail->next = head;
    else
        p->res_head = head;
    p->res_tail = tail;
    pthread_mutex_unlock(&p->res_lock);
}

static void push_results(fw_pipeline *p, fw_outmsg *head, fw_outmsg *tail)
{
    enqueue_results(p, head, tail);
    if (head && p->cfg.notify)
        p->cfg.notify(p->cfg.notify_user);
}

/* Appends m (addressed to job's session) to the list [*h, *t]. A failed allocation is logged:
 * it is the one way an answer can be lost, and it must not be lost silently. */
static void append(fw_outmsg **h, fw_outmsg **t, fw_outmsg *m, const fw_job *job)
{
    if (!m) {
        fprintf(stderr, "framewire: out of memory: answer to frame %llu lost\n",
                (unsigned long long)job->frame_id);
        return;
    }
    m->slot = job->slot;
    m->gen = job->gen;
    m->next = NULL;
    if (*t)
        (*t)->next = m;
    else
        *h = m;
    *t = m;
}

static void *worker_main(void *arg);
static void *infer_main(void *arg);

/* FIFO operations. {lock} held. */
static void q_push(fw_pipeline *p, fw_job *job)
{
    job->next = NULL;
    job->prev = p->q_tail;
    if (p->q_tail)
        p->q_tail->next = job;
    else
        p->q_head = job;
    p->q_tail = job;
    p->q_len++;
}

static void q_remove(fw_pipeline *p, fw_job *job)
{
    if (job->prev)
        job->prev->next = job->next;
    else
        p->q_head = job->next;
    if (job->next)
        job->next->prev = job->prev;
    else
        p->q_tail = job->prev;
    job->next = job->prev = NULL;
    p->q_len--;
    if ((int)job->slot < p->cfg.max_sessions && p->waiting[job->slot] == job)
        p->waiting[job->slot] = NULL;
}

/* Puts `job` in old's place in the FIFO. {lock} held. */
static void q_replace(fw_pipeline *p, fw_job *old, fw_job *job)
{
    job->prev = old->prev;
    job->next = old->next;
    if (job->prev)
        job->prev->next = job;
    else
        p->q_head = job;
    if (job->next)
        job->next->prev = job;
    else
        p->q_tail = job;
    old->next = old->prev = NULL;
}

struct worker_arg {
    fw_pipeline *p;
    int index;
};

/* Decodes and preprocesses sl->job into ring slot s, then marks it READY or FAILED. Called by a
 * decode worker without {lock}, on a slot it has just set FILLING. */
static void fill_slot(fw_pipeline *p, fw_decoder *dec, int s)
{
    struct slot *sl = &p->slots[s];
    fw_job *job = sl->job;
    sl->decode_start_us = fw_now_us();
    const uint8_t *rgb = NULL;
    fw_decode_info info;
    sl->msg[0] = 0;
    sl->err = fw_decode_jpeg(dec, job->jpeg, job->jpeg_len, &p->cfg.limits, p->min_w, p->min_h,
                             &rgb, &info, sl->msg, sizeof sl->msg);
    sl->decode_end_us = fw_now_us();
    /* The JPEG bytes are no longer needed: give the memory back early. */
    free(job->buf);
    job->buf = NULL;
    job->jpeg = NULL;
    if (sl->err == FW_OK &&
        fw_preprocess(rgb, info.w, info.h, &p->pre, p->ring + (size_t)s * p->item_floats) != 0) {
        sl->err = FW_ERR_INTERNAL;
        snprintf(sl->msg, sizeof sl->msg, "preprocessing failed for a %dx%d image", info.w, info.h);
    }
    sl->preprocess_end_us = fw_now_us();

    pthread_mutex_lock(&p->lock);
    if (sl->err == FW_OK) {
        int64_t took = sl->preprocess_end_us - sl->decode_start_us;
        p->fill_est_us = p->fill_est_us ? (3 * p->fill_est_us + took) / 4 : took;
    }
    sl->state = sl->err == FW_OK ? SLOT_READY : SLOT_FAILED;
    pthread_cond_broadcast(&p->ready_cv); /* the forming thread, or any free one */
    pthread_mutex_unlock(&p->lock);
}

/* A realtime frame waiting in the FIFO whose session already has a prepared frame in the ring,
 * ready for the next batch, and time enough to decode the newer one before the running batch
 * ends: returns the ring slot to refill and sets *job to the newer frame (still in the FIFO);
 * -1 when there is none. Only the session's newest prepared slot is refilled, so its answers stay
 * in frame order. {lock} held. */
static int refresh_candidate(fw_pipeline *p, fw_job **job)
{
    /* The next batch starts when the first inference thread is free: now, if one is idle. */
    int64_t next_start = INT64_MAX;
    for (int i = 0; i < p->cfg.infer_threads; i++)
        if (p->infer_until_us[i] < next_start)
            next_start = p->infer_until_us[i];
    if (next_start == 0 || fw_now_us() + p->fill_est_us > next_start)
        return -1;
    for (fw_job *j = p->q_head; j; j = j->next) {
        if (!j->latest_wins)
            continue;
        for (uint64_t i = p->tail; i-- > p->take;) {
            int s = (int)(i % (uint64_t)p->ring_slots);
            const fw_job *old = p->slots[s].job;
            if (old->slot != j->slot || old->gen != j->gen)
                continue;
            if (p->slots[s].state == SLOT_READY && old->latest_wins) {
                *job = j;
                return s;
            }
            break; /* the newest is still being filled, or failed: leave the session alone */
        }
    }
    return -1;
}

static void *worker_main(void *arg)
{
    struct worker_arg *wa = arg;
    fw_pipeline *p = wa->p;
    fw_decoder *dec = p->decoders[wa->index];
    free(wa);

    for (;;) {
        pthread_mutex_lock(&p->lock);
        fw_job *job = NULL;
        int refill = -1;
        while (!p->stop) {
            if (p->q_head && p->tail - p->head < (uint64_t)p->ring_limit) {
                job = p->q_head;
                break;
            }
            if (p->q_head && (refill = refresh_candidate(p, &job)) >= 0)
                break;
            pthread_cond_wait(&p->work_cv, &p->lock);
        }
        if (p->stop) {
            pthread_mutex_unlock(&p->lock);
            break;
        }
        q_remove(p, job);
        fw_outmsg *h = NULL, *t = NULL;
        if (job->stale_at_us && fw_now_us() > job->stale_at_us) {
            /* Too old to be worth decoding: answer at once, without a ring slot. */
            pthread_mutex_unlock(&p->lock);
            append(&h, &t, fw_msg_dropped(job->frame_id, FW_ANS_DROPPED_STALE), job);
            fw_job_free(job);
            push_results(p, h, t);
            continue;
        }
        int s;
        fw_job *superseded = NULL;
        if (refill >= 0) {
            /* Latest frame wins, also in the ring: the newer frame takes the prepared one's slot
             * while the running batch still has time left. */
            s = refill;
            superseded = p->slots[s].job;
        } else {
            s = (int)(p->tail++ % (uint64_t)p->ring_slots);
        }
        p->slots[s].state = SLOT_FILLING;
        p->slots[s].job = job;
        pthread_mutex_unlock(&p->lock);
        if (superseded) {
            append(&h, &t, fw_msg_dropped(superseded->frame_id, FW_ANS_DROPPED_SUPERSEDED),
                   superseded);
            fw_job_free(superseded);
            push_results(p, h, t);
        }
        fill_slot(p, dec, s);
    }
    return NULL;
}

static void set_model_state(fw_pipeline *p, int state, const char *err)
{
    pthread_mutex_lock(&p->lock);
    p->model_state = state;
    if (err)
        snprintf(p->model_err, sizeof p->model_err, "%s", err);
    pthread_cond_broadcast(&p->start_cv);
    pthread_mutex_unlock(&p->lock);
}

static char *xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

/* The number of consecutive READY slots from s0 (at `take`), at most max_batch, not wrapping.
 * {lock} held. */
static int ready_run(fw_pipeline *p, int s0)
{
    int n = 0;
    while (n < p->cfg.max_batch && s0 + n < p->ring_slots && p->take + (uint64_t)n < p->tail &&
           p->slots[s0 + n].state == SLOT_READY)
        n++;
    return n;
}

/* Whether more frames could still join a batch of n from s0: slots after the run are being
 * filled, or jobs wait for a worker and the ring has room before its end. {lock} held. */
static int more_coming(fw_pipeline *p, int s0, int n)
{
    if (s0 + n >= p->ring_slots)
        return 0;
    if (p->take + (uint64_t)n < p->tail)
        return p->slots[s0 + n].state == SLOT_FILLING;
    return p->q_len > 0;
}

/* A few forwards on zeros at batch 1 and max_batch, so the first frames do not pay for
 * TorchScript's profiling runs and allocator growth. */
static int warm_up(fw_model *model, int max_batch, char *err, size_t errlen)
{
    size_t item = fw_model_input_floats(model);
    float *in = calloc(item * (size_t)max_batch, sizeof(float));
    float *out = malloc(sizeof(float) * (size_t)model->num_classes * (size_t)max_batch);
    int rc = in && out ? 0 : -1;
    if (rc)
        snprintf(err, errlen, "out of memory for warm-up");
    for (int i = 0; i < 3 && rc == 0; i++)
        rc = fw_model_run(model, in, 1, out, err, errlen) ||
             fw_model_run(model, in, max_batch, out, err, errlen);
    free(in);
    free(out);
    return rc;
}

/* Loads, validates and warms up this thread's copy of the model (each inference thread runs its
 * own: a module runs fastest on the thread that optimised it, see ../shared design notes). The
 * first thread also publishes the model's description. Returns 0, or -1 after setting the
 * failed state. */
static int infer_load_locked(fw_pipeline *p, int index, fw_model *model);

static int infer_load(fw_pipeline *p, int index, fw_model *model)
{
    pthread_mutex_lock(&p->load_lock);
    int rc = infer_load_locked(p, index, model);
    pthread_mutex_unlock(&p->load_lock);
    return rc;
}

/* infer_load with {load_lock} held. */
static int infer_load_locked(fw_pipeline *p, int index, fw_model *model)
{
    char err[512];
    if (p->cfg.torch_threads > 0 && fwt_set_threads(p->cfg.torch_threads, 0, err, sizeof err)) {
        set_model_state(p, -1, err);
        return -1;
    }
    fw_model_params mp = {.device = p->cfg.device, .optimize = p->cfg.optimize};
    if (fw_model_open(model, p->cfg.manifest_path, &mp, err, sizeof err) != 0) {
        set_model_state(p, -1, err);
        return -1;
    }
    if (warm_up(model, p->cfg.max_batch, err, sizeof err) != 0) {
        char msg[600];
        snprintf(msg, sizeof msg, "model %s failed at batch size %d: %s", model->man.model_path,
                 p->cfg.max_batch, err);
        fw_model_close(model);
        set_model_state(p, -1, msg);
        return -1;
    }
    if (index == 0) {
        p->model_name = xstrdup(model->man.name);
        p->device = xstrdup(fwt_model_device(model->net));
        if (!p->model_name || !p->device) {
            fw_model_close(model);
            set_model_state(p, -1, "out of memory");
            return -1;
        }
        p->pre = model->man.pre;
        p->info.name = p->model_name;
        p->info.device = p->device;
        p->info.input_width = model->man.pre.width;
        p->info.input_height = model->man.pre.height;
        p->info.num_labels = model->num_classes;
        p->info.labels = (const char *const *)model->man.labels;
        p->info.output_kind = model->man.output == FW_OUTPUT_LOGITS ? "logits" : "probs";
    }
    pthread_mutex_lock(&p->lock);
    if (++p->models_ready == p->cfg.infer_threads && p->model_state == 0)
        p->model_state = 1;
    pthread_cond_broadcast(&p->start_cv);
    pthread_mutex_unlock(&p->lock);
    return 0;
}

/* Waits for the next batch and takes it: the longest run of READY slots at `take` (after the
 * batching delay), or one FAILED slot. Returns its first ring slot and sets *n, or -1 on stop.
 * {lock} held. */
static int take_batch(fw_pipeline *p, int index, int *n)
{
    for (;;) {
        if (p->stop)
            return -1;
        if (!p->forming && p->take < p->tail) {
            enum slot_state st = p->slots[p->take % (uint64_t)p->ring_slots].state;
            if (st == SLOT_READY || st == SLOT_FAILED)
                break;
        }
        pthread_cond_wait(&p->ready_cv, &p->lock);
    }
    int s0 = (int)(p->take % (uint64_t)p->ring_slots);
    *n = p->slots[s0].state == SLOT_READY ? ready_run(p, s0) : 1;
    if (p->slots[s0].state == SLOT_READY && *n < p->cfg.max_batch && p->cfg.max_delay_us > 0) {
        /* Dynamic batching: wait a little for frames already on their way to join. The other
         * inference threads wait meanwhile (`forming`): the batch after this one is theirs. */
        p->forming = 1;
        int64_t deadline = p->slots[s0].preprocess_end_us + p->cfg.max_delay_us;
        while (!p->stop && *n < p->cfg.max_batch && more_coming(p, s0, *n) &&
               fw_now_us() < deadline) {
            struct timespec ts = {.tv_sec = deadline / 1000000,
                                  .tv_nsec = (long)(deadline % 1000000) * 1000};
            pthread_cond_timedwait(&p->ready_cv, &p->lock, &ts);
            *n = ready_run(p, s0);
        }
        p->forming = 0;
        pthread_cond_broadcast(&p->ready_cv);
        if (p->stop)
            return -1;
    }
    for (int i = 0; i < *n; i++)
        p->slots[s0 + i].state = SLOT_INFER;
    p->take += (uint64_t)*n;
    p->infer_until_us[index] = fw_now_us() + p->batch_est_us[*n] + 1;
    if (p->q_len > 0)
        pthread_cond_broadcast(&p->work_cv); /* prepared frames may be refreshed now */
    return s0;
}

/* Marks the batch [s0, s0 + n) answered with answers [h, t], frees the ring slots answered so far
 * from the head, and returns their answers in ring order in [*oh, *ot]. {lock} held. */
static void finish_batch(fw_pipeline *p, int s0, int n, fw_outmsg *h, fw_outmsg *t, fw_outmsg **oh,
                         fw_outmsg **ot)
{
    for (int i = 0; i < n; i++)
        p->slots[s0 + i].state = SLOT_DONE;
    p->slots[s0].ans_head = h;
    p->slots[s0].ans_tail = t;
    *oh = *ot = NULL;
    while (p->head < p->take) {
        struct slot *sl = &p->slots[p->head % (uint64_t)p->ring_slots];
        if (sl->state != SLOT_DONE)
            break;
        if (sl->ans_head) {
            if (*ot)
                (*ot)->next = sl->ans_head;
            else
                *oh = sl->ans_head;
            *ot = sl->ans_tail;
        }
        sl->ans_head = sl->ans_tail = NULL;
        sl->state = SLOT_FREE;
        p->head++;
    }
}

static void *infer_main(void *arg)
{
    struct infer_arg *ia = arg;
    fw_pipeline *p = ia->p;
    int index = ia->index;
    free(ia);
    char err[512];
    fw_model model;
    if (infer_load(p, index, &model) != 0)
        return NULL;
    int k = model.num_classes;
    float *probs = malloc(sizeof(float) * (size_t)k * (size_t)p->cfg.max_batch);
    fw_class_score *scores = malloc(sizeof *scores * FW_TOPK_MAX);
    if (!probs || !scores) {
        free(probs);
        free(scores);
        fw_model_close(&model);
        set_model_state(p, -1, "out of memory");
        return NULL;
    }
    const char *const *labels = (const char *const *)model.man.labels;
    for (;;) {
        pthread_mutex_lock(&p->lock);
        int n = 0, s0 = take_batch(p, index, &n);
        pthread_mutex_unlock(&p->lock);
        if (s0 < 0)
            break;

        fw_outmsg *h = NULL, *t = NULL;
        struct slot *first = &p->slots[s0];
        int64_t took = 0;
        if (first->err != FW_OK) {
            append(&h, &t, fw_msg_error(1, first->job->frame_id, first->err, first->msg),
                   first->job);
        } else {
            int64_t t0 = fw_now_us();
            int rc = fw_model_run(&model, p->ring + (size_t)s0 * p->item_floats, n, probs, err,
                                  sizeof err);
            int64_t t1 = fw_now_us();
            took = rc == 0 ? t1 - t0 : 0;
            for (int i = 0; i < n; i++) {
                struct slot *sl = &p->slots[s0 + i];
                fw_job *job = sl->job;
                if (rc != 0) {
                    append(&h, &t, fw_msg_error(1, job->frame_id, FW_ERR_INFERENCE, err), job);
                    continue;
                }
                int m = fw_topk(probs + (size_t)i * k, k, job->top_k, scores);
                fw_timing tm = {
                    .queue_us = sl->decode_start_us - job->arrival_us,
                    .decode_us = sl->decode_end_us - sl->decode_start_us,
                    .preprocess_us = sl->preprocess_end_us - sl->decode_end_us,
                    .wait_us = t0 - sl->preprocess_end_us,
                    .infer_us = t1 - t0,
                    .batch_size = n,
                };
                tm.total_us = fw_now_us() - job->arrival_us;
                append(&h, &t,
                       fw_msg_result(job->frame_id, job->capture_us, scores, m, labels, &tm,
                                     job->arrival_wall_us, fw_wall_us()),
                       job);
            }
        }
        for (int i = 0; i < n; i++) {
            fw_job_free(p->slots[s0 + i].job);
            p->slots[s0 + i].job = NULL;
        }

        fw_outmsg *oh, *ot;
        pthread_mutex_lock(&p->lock);
        finish_batch(p, s0, n, h, t, &oh, &ot);
        p->infer_until_us[index] = 0;
        if (took > 0)
            p->batch_est_us[n] = p->batch_est_us[n] ? (3 * p->batch_est_us[n] + took) / 4 : took;
        pthread_cond_broadcast(&p->work_cv);
        /* Still under {lock}: another inference thread could otherwise collect a later batch's
         * answers and queue them before these ({lock} then {res_lock}, never the other way). */
        enqueue_results(p, oh, ot);
        pthread_mutex_unlock(&p->lock);
        if (oh && p->cfg.notify)
            p->cfg.notify(p->cfg.notify_user);
    }
    free(probs);
    free(scores);
    fw_model_close(&model);
    return NULL;
}

fw_pipeline *fw_pipeline_start(const fw_pipeline_config *cfg, char *err, size_t errlen)
{
    if (cfg->decode_threads < 1 || cfg->infer_threads < 1 || cfg->max_batch < 1 ||
        cfg->queue_capacity < 1) {
        snprintf(err, errlen,
                 "pipeline: decode threads, inference threads, max batch and queue "
                 "capacity must be >= 1");
        return NULL;
    }
    fw_pipeline *p = calloc(1, sizeof *p);
    if (!p) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    p->cfg = *cfg;
    p->batch_est_us = calloc((size_t)cfg->max_batch + 1, sizeof *p->batch_est_us);
    p->infer_until_us = calloc((size_t)cfg->infer_threads, sizeof *p->infer_until_us);
    p->infer = calloc((size_t)cfg->infer_threads, sizeof *p->infer);
    pthread_mutex_init(&p->lock, NULL);
    pthread_mutex_init(&p->res_lock, NULL);
    pthread_mutex_init(&p->load_lock, NULL);
    pthread_cond_init(&p->work_cv, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC); /* timed waits use fw_now_us() */
    pthread_cond_init(&p->ready_cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_cond_init(&p->start_cv, NULL);

    if (!p->batch_est_us || !p->infer_until_us || !p->infer) {
        snprintf(err, errlen, "out of memory");
        goto err;
    }
    for (int i = 0; i < cfg->infer_threads; i++) {
        struct infer_arg *ia = malloc(sizeof *ia);
        if (!ia) {
            snprintf(err, errlen, "out of memory");
            goto err;
        }
        *ia = (struct infer_arg){.p = p, .index = i};
        if (pthread_create(&p->infer[i], NULL, infer_main, ia) != 0) {
            free(ia);
            snprintf(err, errlen, "cannot start inference thread %d", i);
            goto err;
        }
        p->infer_started++;
    }
    pthread_mutex_lock(&p->lock);
    while (p->model_state == 0)
        pthread_cond_wait(&p->start_cv, &p->lock);
    pthread_mutex_unlock(&p->lock);
    if (p->model_state < 0) {
        snprintf(err, errlen, "%s", p->model_err);
        goto err;
    }

    fw_preprocess_min_size(&p->pre, 0, 0, &p->min_w, &p->min_h);
    p->item_floats = (size_t)3 * (size_t)p->pre.width * (size_t)p->pre.height;
    /* Decoding runs at most one batch ahead of inference (a batch per inference thread, plus one
     * being prepared): frames beyond that wait in the FIFO, where a realtime session's newer
     * frame can still supersede them (a deeper ring would be a queue that nothing drops from, and
     * latency under overload would grow with its depth). The ring itself is larger so that
     * batches seldom have to stop at its end. */
    p->ring_limit = (cfg->infer_threads + 1) * cfg->max_batch;
    if (p->ring_limit < cfg->infer_threads * cfg->max_batch + cfg->decode_threads)
        p->ring_limit = cfg->infer_threads * cfg->max_batch + cfg->decode_threads;
    p->ring_slots = 2 * p->ring_limit;
    p->ring = malloc(sizeof(float) * p->item_floats * (size_t)p->ring_slots);
    p->slots = calloc((size_t)p->ring_slots, sizeof *p->slots);
    p->decoders = calloc((size_t)cfg->decode_threads, sizeof *p->decoders);
    p->waiting = calloc((size_t)cfg->max_sessions, sizeof *p->waiting);
    p->workers = calloc((size_t)cfg->decode_threads, sizeof *p->workers);
    if (!p->ring || !p->slots || !p->decoders || !p->workers || !p->waiting) {
        snprintf(err, errlen, "out of memory for %d preprocessed inputs", p->ring_slots);
        goto err;
    }
    for (int i = 0; i < cfg->decode_threads; i++) {
        if (!(p->decoders[i] = fw_decoder_new())) {
            snprintf(err, errlen, "cannot create a JPEG decoder");
            goto err;
        }
    }
    for (int i = 0; i < cfg->decode_threads; i++) {
        struct worker_arg *wa = malloc(sizeof *wa);
        if (!wa) {
            snprintf(err, errlen, "out of memory");
            goto err;
        }
        wa->p = p;
        wa->index = i;
        if (pthread_create(&p->workers[i], NULL, worker_main, wa) != 0) {
            free(wa);
            snprintf(err, errlen, "cannot start decode thread %d", i);
            goto err;
        }
        p->workers_started++;
    }
    return p;
err:
    fw_pipeline_stop(p);
    return NULL;
}

const fw_model_info *fw_pipeline_model(const fw_pipeline *p)
{
    return &p->info;
}

fw_err fw_pipeline_submit(fw_pipeline *p, fw_job *job, int latest_wins, fw_job **superseded)
{
    *superseded = NULL;
    job->latest_wins = latest_wins;
    pthread_mutex_lock(&p->lock);
    fw_job *old = (int)job->slot < p->cfg.max_sessions ? p->waiting[job->slot] : NULL;
    if (old && old->gen != job->gen)
        old = NULL; /* a closed session's leftover: not this session's frame */
    if (latest_wins && old) {
        q_replace(p, old, job);
        *superseded = old;
    } else if (p->stop || p->q_len >= p->cfg.queue_capacity) {
        pthread_mutex_unlock(&p->lock);
        return FW_ERR_OVERLOADED;
    } else {
        q_push(p, job);
    }
    if ((int)job->slot < p->cfg.max_sessions)
        p->waiting[job->slot] = job;
    pthread_cond_signal(&p->work_cv);
    pthread_mutex_unlock(&p->lock);
    return FW_OK;
}

int fw_pipeline_cancel_session(fw_pipeline *p, uint32_t slot, uint32_t gen)
{
    int n = 0;
    pthread_mutex_lock(&p->lock);
    for (fw_job *j = p->q_head, *next; j; j = next) {
        next = j->next;
        if (j->slot == slot && j->gen == gen) {
            q_remove(p, j);
            fw_job_free(j);
            n++;
        }
    }
    pthread_mutex_unlock(&p->lock);
    return n;
}

void fw_pipeline_depth(fw_pipeline *p, int *queued, int *in_ring)
{
    pthread_mutex_lock(&p->lock);
    *queued = p->q_len;
    *in_ring = (int)(p->tail - p->head);
    pthread_mutex_unlock(&p->lock);
}

fw_outmsg *fw_pipeline_take_results(fw_pipeline *p)
{
    pthread_mutex_lock(&p->res_lock);
    fw_outmsg *h = p->res_head;
    p->res_head = p->res_tail = NULL;
    pthread_mutex_unlock(&p->res_lock);
    return h;
}

void fw_pipeline_stop(fw_pipeline *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->lock);
    p->stop = 1;
    pthread_cond_broadcast(&p->work_cv);
    pthread_cond_broadcast(&p->ready_cv);
    pthread_mutex_unlock(&p->lock);
    for (int i = 0; i < p->workers_started; i++)
        pthread_join(p->workers[i], NULL);
    for (int i = 0; i < p->infer_started; i++)
        pthread_join(p->infer[i], NULL);

    while (p->q_head) {
        fw_job *j = p->q_head;
        p->q_head = j->next;
        fw_job_free(j);
    }
    for (int i = 0; p->slots && i < p->ring_slots; i++) {
        fw_job_free(p->slots[i].job);
        while (p->slots[i].ans_head) {
            fw_outmsg *m = p->slots[i].ans_head;
            p->slots[i].ans_head = m->next;
            fw_outmsg_free(m);
        }
    }
    while (p->res_head) {
        fw_outmsg *m = p->res_head;
        p->res_head = m->next;
        fw_outmsg_free(m);
    }
    for (int i = 0; p->decoders && i < p->cfg.decode_threads; i++)
        fw_decoder_free(p->decoders[i]);
    free(p->decoders);
    free(p->waiting);
    free(p->batch_est_us);
    free(p->infer_until_us);
    free(p->infer);
    free(p->workers);
    free(p->slots);
    free(p->ring);
    free(p->model_name);
    free(p->device);
    pthread_mutex_destroy(&p->lock);
    pthread_mutex_destroy(&p->res_lock);
    pthread_mutex_destroy(&p->load_lock);
    pthread_cond_destroy(&p->work_cv);
    pthread_cond_destroy(&p->ready_cv);
    pthread_cond_destroy(&p->start_cv);
    free(p);
}
