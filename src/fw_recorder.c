/* fw_recorder.c - the server's session recorder: a queue filled by the service thread and a
 * writer thread that owns the files (see fw_recorder.h). */
#define _GNU_SOURCE /* O_CLOEXEC with older headers */
#include "fw_recorder.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "fw_recording.h"
#include "fw_time.h"

#define OPEN_REC 100 /* internal queue entry: create the session's file */
#define SESSION_BUCKETS 256
#define MAX_PENDING_GAPS 64

struct entry {
    struct entry *next;
    int type; /* fw_rec_type, or OPEN_REC */
    uint64_t session_id;
    int64_t ts_us;
    uint64_t frame_id, capture_us;
    size_t len;
    uint8_t payload[];
};

/* A session's open file. Writer thread only. */
struct sfile {
    struct sfile *next;
    uint64_t session_id;
    int fd; /* -1 after a write error: further records of the session are counted as lost */
};

/* Records lost for a session and not yet reported in its file. {lock} */
struct gap {
    uint64_t session_id;
    uint64_t records, bytes;
};

struct fw_recorder {
    char *dir;
    char *info_json;
    char run[64]; /* file name prefix of this server run */
    size_t max_queue_bytes;
    pthread_t thread;

    pthread_mutex_t lock;
    pthread_cond_t cond;
    /* {lock}: */
    struct entry *head, *tail;
    size_t queued_bytes;
    int stop;
    struct gap gaps[MAX_PENDING_GAPS];
    int ngaps;
    int dropping; /* in a burst of drops (reported once per burst) */
    fw_recorder_stats stats;

    /* Writer thread only: */
    struct sfile *files[SESSION_BUCKETS];
};

static struct entry *entry_new(int type, uint64_t sid, int64_t ts, uint64_t frame_id,
                               uint64_t capture_us, const void *data, size_t len)
{
    struct entry *e = malloc(sizeof *e + len);
    if (!e)
        return NULL;
    e->next = NULL;
    e->type = type;
    e->session_id = sid;
    e->ts_us = ts;
    e->frame_id = frame_id;
    e->capture_us = capture_us;
    e->len = len;
    if (len)
        memcpy(e->payload, data, len);
    return e;
}

/* {lock} held. */
static void push_locked(fw_recorder *r, struct entry *e)
{
    if (r->tail)
        r->tail->next = e;
    else
        r->head = e;
    r->tail = e;
    r->queued_bytes += sizeof *e + e->len;
}

/* {lock} held. Counts a dropped record of session sid. */
static void note_lost_locked(fw_recorder *r, uint64_t sid, size_t bytes)
{
    r->stats.lost++;
    if (!r->dropping) {
        r->dropping = 1;
        fprintf(stderr,
                "framewire: recorder: queue full (%zu bytes waiting for the disk): dropping "
                "records; the session files get GAP records\n",
                r->queued_bytes);
    }
    for (int i = 0; i < r->ngaps; i++)
        if (r->gaps[i].session_id == sid) {
            r->gaps[i].records++;
            r->gaps[i].bytes += bytes;
            return;
        }
    if (r->ngaps < MAX_PENDING_GAPS)
        r->gaps[r->ngaps++] = (struct gap){sid, 1, bytes};
}

/* {lock} held. Queues a GAP record for sid if records of it were lost. */
static void flush_gap_locked(fw_recorder *r, uint64_t sid, int64_t ts)
{
    for (int i = 0; i < r->ngaps; i++) {
        if (r->gaps[i].session_id != sid)
            continue;
        char js[128];
        int n = snprintf(js, sizeof js, "{\"lost_records\":%" PRIu64 ",\"lost_bytes\":%" PRIu64 "}",
                         r->gaps[i].records, r->gaps[i].bytes);
        struct entry *g = entry_new(FW_REC_GAP, sid, ts, 0, 0, js, (size_t)n);
        if (!g)
            return; /* stays pending */
        push_locked(r, g);
        r->gaps[i] = r->gaps[--r->ngaps];
        return;
    }
}

static void add(fw_recorder *r, int type, uint64_t sid, int64_t ts, uint64_t frame_id,
                uint64_t capture_us, const void *data, size_t len)
{
    if (!r)
        return;
    /* Control records (open, close) are never dropped: they are tiny and keep files consistent. */
    int control = type == OPEN_REC || type == FW_REC_CLOSE;
    pthread_mutex_lock(&r->lock);
    int full = r->queued_bytes + sizeof(struct entry) + len > r->max_queue_bytes;
    pthread_mutex_unlock(&r->lock);
    struct entry *e = NULL;
    if (!full || control)
        e = entry_new(type, sid, ts, frame_id, capture_us, data, len);
    pthread_mutex_lock(&r->lock);
    if (!e) {
        note_lost_locked(r, sid, len);
    } else {
        if (r->ngaps)
            flush_gap_locked(r, sid, ts);
        if (!full)
            r->dropping = 0;
        push_locked(r, e);
        pthread_cond_signal(&r->cond);
    }
    pthread_mutex_unlock(&r->lock);
}

void fw_recorder_session_open(fw_recorder *r, uint64_t session_id)
{
    add(r, OPEN_REC, session_id, fw_wall_us(), 0, 0, NULL, 0);
}

void fw_recorder_frame(fw_recorder *r, uint64_t session_id, uint64_t frame_id, uint64_t capture_us,
                       int64_t arrival_us, const void *msg, size_t len)
{
    add(r, FW_REC_FRAME, session_id, arrival_us, frame_id, capture_us, msg, len);
}

void fw_recorder_client_text(fw_recorder *r, uint64_t session_id, int64_t ts_us, const void *text,
                             size_t len)
{
    add(r, FW_REC_CLIENT_TEXT, session_id, ts_us, 0, 0, text, len);
}

void fw_recorder_server_text(fw_recorder *r, uint64_t session_id, int64_t ts_us, const void *text,
                             size_t len)
{
    add(r, FW_REC_SERVER_TEXT, session_id, ts_us, 0, 0, text, len);
}

void fw_recorder_session_close(fw_recorder *r, uint64_t session_id)
{
    add(r, FW_REC_CLOSE, session_id, fw_wall_us(), 0, 0, NULL, 0);
}

/* ---- writer thread ---- */

static struct sfile **find_slot(fw_recorder *r, uint64_t sid)
{
    struct sfile **pp = &r->files[sid % SESSION_BUCKETS];
    while (*pp && (*pp)->session_id != sid)
        pp = &(*pp)->next;
    return pp;
}

/* Writes all of iov (retrying short writes). 0, or -1 with errno. */
static int write_all(int fd, struct iovec *iov, int n)
{
    while (n > 0) {
        ssize_t w = writev(fd, iov, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        while (n > 0 && (size_t)w >= iov->iov_len) {
            w -= (ssize_t)iov->iov_len;
            iov++;
            n--;
        }
        if (n > 0) {
            iov->iov_base = (uint8_t *)iov->iov_base + w;
            iov->iov_len -= (size_t)w;
        }
    }
    return 0;
}

static void count(fw_recorder *r, uint64_t records, uint64_t bytes, uint64_t lost, uint64_t files)
{
    pthread_mutex_lock(&r->lock);
    r->stats.records += records;
    r->stats.bytes += bytes;
    r->stats.lost += lost;
    r->stats.files += files;
    pthread_mutex_unlock(&r->lock);
}

static void write_record(fw_recorder *r, struct sfile *sf, int type, int64_t ts, uint64_t frame_id,
                         uint64_t capture_us, const void *payload, size_t len)
{
    if (sf->fd < 0) {
        count(r, 0, 0, 1, 0);
        return;
    }
    uint8_t h[FW_REC_HEADER_LEN];
    fw_rec_record_header(h, type, ts, frame_id, capture_us, payload, len);
    struct iovec iov[2] = {{h, sizeof h}, {(void *)payload, len}};
    if (write_all(sf->fd, iov, len ? 2 : 1) != 0) {
        fprintf(stderr,
                "framewire: recorder: writing session %" PRIu64 " failed (%s): the rest of this "
                "session is not recorded\n",
                sf->session_id, strerror(errno));
        close(sf->fd);
        sf->fd = -1;
        count(r, 0, 0, 1, 0);
        return;
    }
    count(r, 1, sizeof h + len, 0, 0);
}

static void open_session(fw_recorder *r, struct entry *e)
{
    struct sfile **pp = find_slot(r, e->session_id);
    if (*pp)
        return; /* already open */
    struct sfile *sf = calloc(1, sizeof *sf);
    if (!sf) {
        count(r, 0, 0, 1, 0);
        return;
    }
    sf->session_id = e->session_id;
    size_t plen = strlen(r->dir) + strlen(r->run) + 48;
    char *path = malloc(plen);
    sf->fd = -1;
    if (path) {
        snprintf(path, plen, "%s/%s-s%06" PRIu64 "%s", r->dir, r->run, e->session_id,
                 FW_REC_SUFFIX);
        sf->fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (sf->fd < 0)
            fprintf(stderr, "framewire: recorder: cannot create %s: %s\n", path, strerror(errno));
    }
    free(path);
    *pp = sf;
    if (sf->fd < 0)
        return;
    count(r, 0, 0, 0, 1);
    uint8_t fh[FW_REC_FILE_HEADER_LEN];
    fw_rec_file_header(fh, e->session_id, e->ts_us);
    struct iovec iov = {fh, sizeof fh};
    if (write_all(sf->fd, &iov, 1) != 0) {
        fprintf(stderr, "framewire: recorder: writing session %" PRIu64 " failed: %s\n",
                e->session_id, strerror(errno));
        close(sf->fd);
        sf->fd = -1;
        return;
    }
    count(r, 0, sizeof fh, 0, 0);
    char *meta = malloc(strlen(r->info_json) + 128);
    if (!meta) {
        count(r, 0, 0, 1, 0);
        return;
    }
    int n = sprintf(meta,
                    "{\"format\":\"framewire recording\",\"version\":%d,\"session\":%" PRIu64
                    ",\"started_us\":%" PRId64 ",\"server\":%s}",
                    FW_REC_VERSION, e->session_id, e->ts_us, r->info_json);
    write_record(r, sf, FW_REC_META, e->ts_us, 0, 0, meta, (size_t)n);
    free(meta);
}

static void handle(fw_recorder *r, struct entry *e)
{
    if (e->type == OPEN_REC) {
        open_session(r, e);
        return;
    }
    struct sfile **pp = find_slot(r, e->session_id);
    if (!*pp) {
        /* A session opened before the recorder had a file for it (cannot happen with the server's
         * hooks); start its file now so nothing is lost. */
        struct entry open = {.type = OPEN_REC, .session_id = e->session_id, .ts_us = e->ts_us};
        open_session(r, &open);
        pp = find_slot(r, e->session_id);
        if (!*pp) {
            count(r, 0, 0, 1, 0);
            return;
        }
    }
    struct sfile *sf = *pp;
    write_record(r, sf, e->type, e->ts_us, e->frame_id, e->capture_us, e->payload, e->len);
    if (e->type == FW_REC_CLOSE) {
        if (sf->fd >= 0)
            close(sf->fd);
        *pp = sf->next;
        free(sf);
    }
}

static void *writer_main(void *arg)
{
    fw_recorder *r = arg;
    for (;;) {
        pthread_mutex_lock(&r->lock);
        while (!r->head && !r->stop)
            pthread_cond_wait(&r->cond, &r->lock);
        struct entry *list = r->head;
        int stop = r->stop;
        r->head = r->tail = NULL;
        pthread_mutex_unlock(&r->lock);
        if (!list && stop)
            break;
        while (list) {
            struct entry *next = list->next;
            size_t size = sizeof *list + list->len;
            handle(r, list);
            free(list);
            list = next;
            /* Counted until written, so the queue's memory is really bounded. */
            pthread_mutex_lock(&r->lock);
            r->queued_bytes -= size;
            pthread_mutex_unlock(&r->lock);
        }
    }
    /* Sessions still open at stop: their files end without a CLOSE record, like a kill. */
    for (int i = 0; i < SESSION_BUCKETS; i++)
        while (r->files[i]) {
            struct sfile *sf = r->files[i];
            r->files[i] = sf->next;
            if (sf->fd >= 0)
                close(sf->fd);
            free(sf);
        }
    return NULL;
}

fw_recorder *fw_recorder_open(const char *dir, const char *info_json, size_t max_queue_bytes,
                              char *err, size_t errlen)
{
    if (!dir || !*dir) {
        snprintf(err, errlen, "--record: no directory given");
        return NULL;
    }
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "--record: cannot create %s: %s", dir, strerror(errno));
        return NULL;
    }
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        snprintf(err, errlen, "--record: %s is not a directory", dir);
        return NULL;
    }
    if (access(dir, W_OK | X_OK) != 0) {
        snprintf(err, errlen, "--record: cannot write into %s: %s", dir, strerror(errno));
        return NULL;
    }
    fw_recorder *r = calloc(1, sizeof *r);
    if (!r) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    r->dir = strdup(dir);
    r->info_json = strdup(info_json && *info_json ? info_json : "{}");
    r->max_queue_bytes = max_queue_bytes ? max_queue_bytes : FW_RECORDER_DEFAULT_QUEUE_BYTES;
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    char stamp[32];
    strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tm);
    snprintf(r->run, sizeof r->run, "%s-%ld", stamp, (long)getpid());
    if (!r->dir || !r->info_json) {
        snprintf(err, errlen, "out of memory");
        goto err;
    }
    pthread_mutex_init(&r->lock, NULL);
    pthread_cond_init(&r->cond, NULL);
    if (pthread_create(&r->thread, NULL, writer_main, r) != 0) {
        snprintf(err, errlen, "--record: cannot start the writer thread");
        pthread_mutex_destroy(&r->lock);
        pthread_cond_destroy(&r->cond);
        goto err;
    }
    return r;
err:
    free(r->dir);
    free(r->info_json);
    free(r);
    return NULL;
}

void fw_recorder_get_stats(fw_recorder *r, fw_recorder_stats *out)
{
    memset(out, 0, sizeof *out);
    if (!r)
        return;
    pthread_mutex_lock(&r->lock);
    *out = r->stats;
    pthread_mutex_unlock(&r->lock);
}

void fw_recorder_close(fw_recorder *r)
{
    if (!r)
        return;
    pthread_mutex_lock(&r->lock);
    r->stop = 1;
    pthread_cond_signal(&r->cond);
    pthread_mutex_unlock(&r->lock);
    pthread_join(r->thread, NULL);
    pthread_mutex_destroy(&r->lock);
    pthread_cond_destroy(&r->cond);
    if (r->stats.lost)
        fprintf(stderr, "framewire: recorder: %" PRIu64 " records were lost (see GAP records)\n",
                r->stats.lost);
    free(r->dir);
    free(r->info_json);
    free(r);
}

char *fw_recorder_info_json(const char *server, const char *model_name, int input_width,
                            int input_height, int num_labels, const char *output,
                            const char *device)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "server", server ? server : "");
    cJSON *m = cJSON_AddObjectToObject(o, "model");
    cJSON_AddStringToObject(m, "name", model_name ? model_name : "");
    cJSON_AddNumberToObject(m, "input_width", input_width);
    cJSON_AddNumberToObject(m, "input_height", input_height);
    cJSON_AddNumberToObject(m, "labels", num_labels);
    cJSON_AddStringToObject(m, "output", output ? output : "");
    cJSON_AddStringToObject(m, "device", device ? device : "");
    char *txt = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!txt)
        return NULL;
    char *copy = strdup(txt); /* plain malloc memory: the caller frees with free() */
    cJSON_free(txt);
    return copy;
}
