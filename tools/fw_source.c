/* fw_source.c - frame sources for the tools: recordings, JPEG directories, MJPEG files and videos
 * through ffmpeg (see fw_source.h). */
#define _GNU_SOURCE /* strcasecmp, getline */
#include "fw_source.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fw_frame.h"
#include "fw_recording.h"
#include "fw_toolutil.h"

#define DEFAULT_MAX_FRAME (64u << 20)
#define DEFAULT_FPS 30.0

struct fw_source {
    fw_source_kind kind;
    fw_source_options opt;
    double fps;
    uint64_t seq;
    char note[300];
    /* recording */
    fw_rec_reader *rec;
    int64_t first_ts;
    int top_k;
    /* directory */
    char *dir;
    char **names;
    int nnames, next_name;
    /* mjpeg / video */
    FILE *f;
    pid_t child;
    uint8_t *buf;
    size_t cap;
};

const char *fw_source_kind_name(fw_source_kind k)
{
    switch (k) {
    case FW_SRC_RECORDING:
        return "recording";
    case FW_SRC_JPEG_DIR:
        return "JPEG directory";
    case FW_SRC_MJPEG:
        return "MJPEG";
    case FW_SRC_VIDEO:
        return "video (ffmpeg)";
    }
    return "?";
}

fw_source_kind fw_source_get_kind(const fw_source *s)
{
    return s->kind;
}

double fw_source_fps(const fw_source *s)
{
    return s->kind == FW_SRC_RECORDING ? 0 : s->fps;
}

const char *fw_source_note(const fw_source *s)
{
    return s->note[0] ? s->note : NULL;
}

/* ---- MJPEG splitting ---- */

static int put(uint8_t **buf, size_t *cap, size_t *len, size_t max, int c)
{
    if (*len >= max)
        return -1;
    if (*len == *cap) {
        size_t n = *cap ? *cap * 2 : 65536;
        if (n > max)
            n = max;
        uint8_t *b = realloc(*buf, n);
        if (!b)
            return -1;
        *buf = b;
        *cap = n;
    }
    (*buf)[(*len)++] = (uint8_t)c;
    return 0;
}

int fw_mjpeg_next(FILE *f, uint8_t **buf, size_t *cap, size_t *len, size_t max, char *err,
                  size_t errlen)
{
    *len = 0;
    int c = getc(f);
    if (c == EOF)
        return 0;
    /* Tolerate whitespace/padding between frames (some writers pad); anything else is garbage. */
    long skipped = 0;
    while (c != EOF && c != 0xFF) {
        skipped++;
        c = getc(f);
    }
    int c2 = c == EOF ? EOF : getc(f);
    if (c == EOF && skipped > 0)
        return 0; /* trailing padding */
    if (c != 0xFF || c2 != 0xD8) {
        snprintf(err, errlen, "not a JPEG frame (no FF D8 start marker)");
        return -1;
    }
#define PUT(x)                                                                                     \
    do {                                                                                           \
        if (put(buf, cap, len, max, (x)) != 0) {                                                   \
            snprintf(err, errlen, "a JPEG frame is larger than %zu bytes (or out of memory)",      \
                     max);                                                                         \
            return -1;                                                                             \
        }                                                                                          \
    } while (0)
    PUT(0xFF);
    PUT(0xD8);
    int code = -1; /* a marker code already read (after entropy-coded data) */
    for (;;) {
        if (code < 0) {
            c = getc(f);
            if (c != 0xFF) {
                snprintf(err, errlen,
                         c == EOF ? "truncated JPEG at the end of the stream"
                                  : "damaged JPEG (expected a marker)");
                return -1;
            }
            do
                code = getc(f);
            while (code == 0xFF); /* fill bytes */
            if (code == EOF) {
                snprintf(err, errlen, "truncated JPEG at the end of the stream");
                return -1;
            }
        }
        PUT(0xFF);
        PUT(code);
        if (code == 0xD9)
            return 1; /* EOI */
        if ((code >= 0xD0 && code <= 0xD7) || code == 0x01) {
            code = -1;
            continue; /* markers without a length */
        }
        int hi = getc(f), lo = getc(f);
        if (hi == EOF || lo == EOF) {
            snprintf(err, errlen, "truncated JPEG at the end of the stream");
            return -1;
        }
        int seglen = hi << 8 | lo;
        if (seglen < 2) {
            snprintf(err, errlen, "damaged JPEG (segment length %d)", seglen);
            return -1;
        }
        PUT(hi);
        PUT(lo);
        for (int i = 0; i < seglen - 2; i++) {
            c = getc(f);
            if (c == EOF) {
                snprintf(err, errlen, "truncated JPEG at the end of the stream");
                return -1;
            }
            PUT(c);
        }
        int sos = code == 0xDA;
        code = -1;
        if (!sos)
            continue;
        /* Entropy-coded data: runs until FF followed by something other than 00 or RSTn. */
        for (;;) {
            c = getc(f);
            if (c == EOF) {
                snprintf(err, errlen, "truncated JPEG at the end of the stream");
                return -1;
            }
            if (c != 0xFF) {
                PUT(c);
                continue;
            }
            int n = getc(f);
            while (n == 0xFF)
                n = getc(f);
            if (n == EOF) {
                snprintf(err, errlen, "truncated JPEG at the end of the stream");
                return -1;
            }
            if (n == 0x00 || (n >= 0xD0 && n <= 0xD7)) {
                PUT(0xFF);
                PUT(n);
                continue;
            }
            code = n; /* a marker: handled (and stored) by the loop above */
            break;
        }
    }
#undef PUT
}

/* ---- sources ---- */

static int has_jpeg_suffix(const char *name)
{
    size_t l = strlen(name);
    return (l > 4 && strcasecmp(name + l - 4, ".jpg") == 0) ||
           (l > 5 && strcasecmp(name + l - 5, ".jpeg") == 0);
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int open_dir(fw_source *s, const char *path, char *err, size_t errlen)
{
    DIR *d = opendir(path);
    if (!d) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    struct dirent *e;
    int cap = 0;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.' || !has_jpeg_suffix(e->d_name))
            continue;
        if (s->nnames == cap) {
            cap = cap ? cap * 2 : 64;
            char **n = realloc(s->names, (size_t)cap * sizeof *n);
            if (!n)
                break;
            s->names = n;
        }
        if (!(s->names[s->nnames] = strdup(e->d_name)))
            break;
        s->nnames++;
    }
    closedir(d);
    if (s->nnames == 0) {
        snprintf(err, errlen, "%s: no .jpg or .jpeg files in this directory", path);
        return -1;
    }
    qsort(s->names, (size_t)s->nnames, sizeof *s->names, cmp_names);
    s->dir = strdup(path);
    return s->dir ? 0 : -1;
}

/* Runs argv with its stdout on a pipe; stdin from /dev/null; stderr inherited unless quiet. */
static FILE *spawn_reader(char *const argv[], pid_t *pid, int quiet)
{
    int p[2];
    if (pipe(p) != 0)
        return NULL;
    pid_t c = fork();
    if (c < 0) {
        close(p[0]);
        close(p[1]);
        return NULL;
    }
    if (c == 0) {
        dup2(p[1], 1);
        close(p[0]);
        close(p[1]);
        freopen("/dev/null", "r", stdin);
        if (quiet)
            freopen("/dev/null", "w", stderr);
        execvp(argv[0], argv);
        _exit(127);
    }
    close(p[1]);
    *pid = c;
    return fdopen(p[0], "rb");
}

static int in_path(const char *prog)
{
    const char *path = getenv("PATH");
    if (!path)
        return 0;
    char *copy = strdup(path), *save = NULL;
    int found = 0;
    for (char *d = strtok_r(copy, ":", &save); d && !found; d = strtok_r(NULL, ":", &save)) {
        char full[4096];
        snprintf(full, sizeof full, "%s/%s", *d ? d : ".", prog);
        found = access(full, X_OK) == 0;
    }
    free(copy);
    return found;
}

/* The video's frame rate from ffprobe, or 0. */
static double probe_fps(const char *path)
{
    if (!in_path("ffprobe"))
        return 0;
    char *argv[] = {"ffprobe",
                    "-v",
                    "error",
                    "-select_streams",
                    "v:0",
                    "-show_entries",
                    "stream=avg_frame_rate",
                    "-of",
                    "csv=p=0",
                    (char *)path,
                    NULL};
    pid_t pid;
    FILE *f = spawn_reader(argv, &pid, 1);
    if (!f)
        return 0;
    char line[128] = "";
    if (!fgets(line, sizeof line, f))
        line[0] = 0;
    fclose(f);
    int st;
    waitpid(pid, &st, 0);
    double num = 0, den = 1;
    if (sscanf(line, "%lf/%lf", &num, &den) >= 1 && den > 0 && num / den > 0 && num / den < 1000)
        return num / den;
    return 0;
}

static int open_video(fw_source *s, const char *path, char *err, size_t errlen)
{
    if (!in_path("ffmpeg")) {
        snprintf(err, errlen,
                 "%s: not a framewire recording, JPEG directory or MJPEG file; other video needs "
                 "ffmpeg, which is not installed (apt-get install ffmpeg)",
                 path);
        return -1;
    }
    if (s->opt.fps <= 0) {
        double fps = probe_fps(path);
        s->fps = fps > 0 ? fps : DEFAULT_FPS;
    }
    char *argv[] = {"ffmpeg", "-nostdin", "-v",         "error", "-i",    (char *)path,
                    "-an",    "-f",       "image2pipe", "-c:v",  "mjpeg", "-q:v",
                    "3",      "-pix_fmt", "yuvj420p",   "-",     NULL};
    s->f = spawn_reader(argv, &s->child, 0);
    if (!s->f) {
        snprintf(err, errlen, "cannot start ffmpeg: %s", strerror(errno));
        return -1;
    }
    s->kind = FW_SRC_VIDEO;
    return 0;
}

fw_source *fw_source_open(const char *path, const fw_source_options *opt, char *err, size_t errlen)
{
    fw_source *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (opt)
        s->opt = *opt;
    if (!s->opt.max_frame_bytes)
        s->opt.max_frame_bytes = DEFAULT_MAX_FRAME;
    s->fps = s->opt.fps > 0 ? s->opt.fps : DEFAULT_FPS;
    s->child = -1;
    struct stat st;
    if (stat(path, &st) != 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        goto err;
    }
    if (S_ISDIR(st.st_mode)) {
        s->kind = FW_SRC_JPEG_DIR;
        if (open_dir(s, path, err, errlen) != 0)
            goto err;
        return s;
    }
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        goto err;
    }
    uint8_t head[8] = {0};
    size_t n = fread(head, 1, sizeof head, f);
    if (n == 8 && memcmp(head, FW_REC_MAGIC, 8) == 0) {
        fclose(f);
        s->kind = FW_SRC_RECORDING;
        if (!(s->rec = fw_rec_open(path, err, errlen)))
            goto err;
        s->first_ts = -1;
        return s;
    }
    if (n >= 2 && head[0] == 0xFF && head[1] == 0xD8) {
        rewind(f);
        s->f = f;
        s->kind = FW_SRC_MJPEG;
        return s;
    }
    fclose(f);
    if (n == 0) {
        snprintf(err, errlen, "%s: empty file", path);
        goto err;
    }
    if (open_video(s, path, err, errlen) != 0)
        goto err;
    return s;
err:
    fw_source_close(s);
    return NULL;
}

/* The top-k in force after a client config or server hello/config text, or -1 if none. */
static int top_k_of(const uint8_t *text, size_t len, int from_server)
{
    cJSON *o = cJSON_ParseWithLength((const char *)text, len);
    if (!o)
        return -1;
    int k = -1;
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(o, "type");
    const char *t = cJSON_IsString(type) ? type->valuestring : "";
    const cJSON *src = NULL;
    if (strcmp(t, "config") == 0)
        src = o;
    else if (from_server && strcmp(t, "hello") == 0)
        src = cJSON_GetObjectItemCaseSensitive(o, "config");
    const cJSON *tk = src ? cJSON_GetObjectItemCaseSensitive(src, "top_k") : NULL;
    if (cJSON_IsNumber(tk) && tk->valuedouble >= 1 && tk->valuedouble <= FW_TOPK_MAX)
        k = (int)tk->valuedouble;
    cJSON_Delete(o);
    return k;
}

static int next_recording(fw_source *s, fw_source_frame *f, char *err, size_t errlen)
{
    fw_rec_record r;
    for (;;) {
        int rc = fw_rec_next(s->rec, &r, err, errlen);
        if (rc < 0)
            return -1;
        if (rc == 0) {
            if (fw_rec_torn(s->rec))
                snprintf(s->note, sizeof s->note, "the recording ends early: %s",
                         fw_rec_stop_reason(s->rec));
            return 0;
        }
        if (r.type == FW_REC_SERVER_TEXT && s->seq == 0) {
            int k = top_k_of(r.payload, r.len, 1); /* the hello's default */
            if (k > 0 && s->top_k == 0)
                s->top_k = k;
        } else if (r.type == FW_REC_CLIENT_TEXT) {
            int k = top_k_of(r.payload, r.len, 0);
            if (k > 0)
                s->top_k = k;
        } else if (r.type == FW_REC_GAP && !s->note[0]) {
            snprintf(s->note, sizeof s->note, "the recording has a gap (records lost): %.*s",
                     (int)(r.len < 200 ? r.len : 200), (const char *)r.payload);
        }
        if (r.type != FW_REC_FRAME)
            continue;
        fw_frame fr;
        const uint8_t *data = r.payload;
        size_t len = r.len;
        if (fw_frame_parse(r.payload, r.len, &fr) == FW_OK && fr.has_header) {
            data = fr.jpeg;
            len = fr.jpeg_len;
        }
        f->data = malloc(len ? len : 1);
        if (!f->data) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        memcpy(f->data, data, len);
        f->len = len;
        if (s->first_ts < 0)
            s->first_ts = r.ts_us;
        f->ts_us = r.ts_us - s->first_ts;
        f->orig_frame_id = r.frame_id;
        f->orig_capture_us = r.capture_us;
        f->top_k = s->top_k;
        return 1;
    }
}

static int read_file(const char *path, size_t max, uint8_t **out, size_t *len, char *err,
                     size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || (uint64_t)st.st_size > max) {
        snprintf(err, errlen, "%s: larger than %zu bytes", path, max);
        fclose(f);
        return -1;
    }
    size_t n = (size_t)st.st_size;
    uint8_t *b = malloc(n ? n : 1);
    if (!b || fread(b, 1, n, f) != n) {
        snprintf(err, errlen, "%s: %s", path, b ? "read error" : "out of memory");
        free(b);
        fclose(f);
        return -1;
    }
    fclose(f);
    *out = b;
    *len = n;
    return 0;
}

int fw_source_next(fw_source *s, fw_source_frame *f, char *err, size_t errlen)
{
    memset(f, 0, sizeof *f);
    int rc;
    switch (s->kind) {
    case FW_SRC_RECORDING:
        rc = next_recording(s, f, err, errlen);
        break;
    case FW_SRC_JPEG_DIR: {
        if (s->next_name >= s->nnames)
            return 0;
        const char *name = s->names[s->next_name++];
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", s->dir, name);
        rc = read_file(path, s->opt.max_frame_bytes, &f->data, &f->len, err, errlen) == 0 ? 1 : -1;
        snprintf(f->name, sizeof f->name, "%s", name);
        break;
    }
    case FW_SRC_MJPEG:
    case FW_SRC_VIDEO: {
        size_t len;
        char why[200];
        rc = fw_mjpeg_next(s->f, &s->buf, &s->cap, &len, s->opt.max_frame_bytes, why, sizeof why);
        if (rc < 0)
            snprintf(err, errlen, "frame %" PRIu64 ": %s", s->seq + 1, why);
        if (rc == 0 && s->kind == FW_SRC_VIDEO && s->child > 0) {
            int st;
            waitpid(s->child, &st, 0);
            s->child = -1;
            if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
                snprintf(err, errlen, "ffmpeg failed (exit status %d): see its message above",
                         WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
                return -1;
            }
        }
        if (rc == 1) {
            f->data = malloc(len);
            if (!f->data) {
                snprintf(err, errlen, "out of memory");
                return -1;
            }
            memcpy(f->data, s->buf, len);
            f->len = len;
        }
        break;
    }
    default:
        rc = -1;
    }
    if (rc != 1)
        return rc;
    f->seq = ++s->seq;
    if (s->kind != FW_SRC_RECORDING)
        f->ts_us = (int64_t)((double)(f->seq - 1) * 1e6 / s->fps);
    return 1;
}

void fw_source_close(fw_source *s)
{
    if (!s)
        return;
    fw_rec_close(s->rec);
    if (s->f)
        fclose(s->f);
    if (s->child > 0) {
        kill(s->child, SIGTERM);
        int st;
        waitpid(s->child, &st, 0);
    }
    for (int i = 0; i < s->nnames; i++)
        free(s->names[i]);
    free(s->names);
    free(s->dir);
    free(s->buf);
    free(s);
}

/* ---- a recording's answers ---- */

/* frame id -> seq, open addressing; the latest frame with an id wins. */
struct idmap {
    uint64_t *keys, *vals;
    uint8_t *used;
    size_t cap, n;
};

static size_t slot_of(const struct idmap *m, uint64_t k)
{
    uint64_t h = k * 0x9E3779B97F4A7C15ull;
    size_t i = (size_t)(h >> 17) & (m->cap - 1);
    while (m->used[i] && m->keys[i] != k)
        i = (i + 1) & (m->cap - 1);
    return i;
}

static int idmap_put(struct idmap *m, uint64_t k, uint64_t v)
{
    if ((m->n + 1) * 2 > m->cap) {
        struct idmap n = {0};
        n.cap = m->cap ? m->cap * 2 : 1024;
        n.keys = calloc(n.cap, sizeof *n.keys);
        n.vals = calloc(n.cap, sizeof *n.vals);
        n.used = calloc(n.cap, 1);
        if (!n.keys || !n.vals || !n.used) {
            free(n.keys);
            free(n.vals);
            free(n.used);
            return -1;
        }
        for (size_t i = 0; i < m->cap; i++)
            if (m->used[i]) {
                size_t j = slot_of(&n, m->keys[i]);
                n.used[j] = 1;
                n.keys[j] = m->keys[i];
                n.vals[j] = m->vals[i];
                n.n++;
            }
        free(m->keys);
        free(m->vals);
        free(m->used);
        *m = n;
    }
    size_t i = slot_of(m, k);
    if (!m->used[i]) {
        m->used[i] = 1;
        m->keys[i] = k;
        m->n++;
    }
    m->vals[i] = v;
    return 0;
}

static int idmap_get(const struct idmap *m, uint64_t k, uint64_t *v)
{
    if (!m->cap)
        return 0;
    size_t i = slot_of(m, k);
    if (!m->used[i])
        return 0;
    *v = m->vals[i];
    return 1;
}

int fw_recording_answers(const char *path,
                         void (*emit)(uint64_t seq, const char *json_line, void *user), void *user,
                         char *note, size_t notelen, char *err, size_t errlen)
{
    if (note && notelen)
        note[0] = 0;
    fw_rec_reader *r = fw_rec_open(path, err, errlen);
    if (!r)
        return -1;
    struct idmap m = {0};
    uint64_t seq = 0;
    fw_rec_record rec;
    int rc;
    while ((rc = fw_rec_next(r, &rec, err, errlen)) == 1) {
        if (rec.type == FW_REC_FRAME) {
            if (idmap_put(&m, rec.frame_id, ++seq) != 0) {
                snprintf(err, errlen, "out of memory");
                rc = -1;
                break;
            }
            continue;
        }
        if (rec.type != FW_REC_SERVER_TEXT)
            continue;
        cJSON *o = cJSON_ParseWithLength((const char *)rec.payload, rec.len);
        if (!o)
            continue;
        const cJSON *type = cJSON_GetObjectItemCaseSensitive(o, "type");
        const cJSON *fid = cJSON_GetObjectItemCaseSensitive(o, "frame_id");
        const char *t = cJSON_IsString(type) ? type->valuestring : "";
        uint64_t sq;
        if ((strcmp(t, "result") == 0 || strcmp(t, "error") == 0 || strcmp(t, "dropped") == 0) &&
            cJSON_IsNumber(fid) && idmap_get(&m, (uint64_t)fid->valuedouble, &sq)) {
            /* seq first, then the server's fields as they were sent. */
            char head[40];
            snprintf(head, sizeof head, "\"seq\":%" PRIu64, sq);
            char *txt = fwtool_splice_json((const char *)rec.payload, rec.len, head, NULL);
            if (txt) {
                emit(sq, txt, user);
                free(txt);
            }
        }
        cJSON_Delete(o);
    }
    if (rc == 0 && fw_rec_torn(r) && note && notelen)
        snprintf(note, notelen, "the recording ends early: %s", fw_rec_stop_reason(r));
    fw_rec_close(r);
    free(m.keys);
    free(m.vals);
    free(m.used);
    return rc < 0 ? -1 : 0;
}
