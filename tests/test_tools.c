/* test_tools.c - end to end: the real framewire binary, framewire-replay and framewire-profile
 * as a user runs them (processes, real sockets, the real tiny models and photos).
 *
 * Checks: a session recorded with --record replays in lossless mode against the same model with
 * identical answers frame for frame (fast and paced), a recording survives SIGKILL of the server,
 * the other inputs (JPEG directory, MJPEG, video through ffmpeg) give the in-process answers,
 * --compare against a second model reports the differences and exits non-zero, the profiler's
 * counts agree with the server's /metrics counters, an intentionally stalling model shows in the
 * open-loop p99 but not in a closed-loop one, the sweep's search, and the JSON/CSV/HTML outputs
 * (the HTML is rendered by headless Chromium). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <turbojpeg.h>
#include <unistd.h>

#include "e2e.h"
#include "fw_frame.h"
#include "fw_recording.h"
#include "fw_time.h"
#include "fw_toolutil.h"
#include "test_util.h"

#define MODELS FW_TEST_MODEL_DIR
#define WORK FW_TEST_WORK_DIR "/tools"
#define REC_DIR WORK "/rec"
#define KILL_DIR WORK "/rec-kill"
#define NREC 15 /* frames in the recorded session: 2 rounds of photos + 1 bad frame */

static char rec_path[600]; /* the recorded session (test 1), replayed by later tests */
static int64_t rec_span_us;

/* ---- helpers ---- */

static void sleep_us(long us)
{
    struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
    nanosleep(&ts, NULL);
}

/* Runs bin with args (NULL-terminated), stdout to out_path and stderr to err_path (either may be
 * NULL: /dev/null). Returns the exit status, or -1 on timeout (then killed). */
static int run_tool(const char *bin, const char *const *args, const char *out_path,
                    const char *err_path, int timeout_ms)
{
    const char *argv[64];
    int n = 0;
    argv[n++] = bin;
    for (int i = 0; args[i] && n < 62; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    pid_t pid = fork();
    if (pid == 0) {
        int o = open(out_path ? out_path : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int e = open(err_path ? err_path : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(o, 1);
        dup2(e, 2);
        execv(bin, (char *const *)argv);
        _exit(127);
    }
    int64_t deadline = fw_now_us() + (int64_t)timeout_ms * 1000;
    int st;
    while (waitpid(pid, &st, WNOHANG) == 0) {
        if (fw_now_us() > deadline) {
            kill(pid, SIGKILL);
            waitpid(pid, &st, 0);
            return -1;
        }
        sleep_us(10000);
    }
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static char *slurp(const char *path)
{
    size_t len;
    uint8_t *b = tu_read_file(path, &len);
    if (!b)
        return NULL;
    char *s = realloc(b, len + 1);
    s[len] = 0;
    return s;
}

static void show_file(const char *what, const char *path)
{
    char *s = slurp(path);
    fprintf(stderr, "---- %s (%s) ----\n%s\n----\n", what, path, s ? s : "(none)");
    free(s);
}

static cJSON *load_json(const char *path)
{
    char *s = slurp(path);
    if (!s)
        fail_msg("cannot read %s", path);
    cJSON *j = cJSON_Parse(s);
    if (!j)
        fail_msg("%s is not JSON: %.300s", path, s);
    free(s);
    return j;
}

/* Parses a JSON-lines file into an array of objects. */
static cJSON *load_jsonl(const char *path)
{
    char *s = slurp(path);
    if (!s)
        fail_msg("cannot read %s", path);
    cJSON *arr = cJSON_CreateArray();
    for (char *line = strtok(s, "\n"); line; line = strtok(NULL, "\n")) {
        cJSON *j = cJSON_Parse(line);
        if (!j)
            fail_msg("%s: not JSON: %.300s", path, line);
        cJSON_AddItemToArray(arr, j);
    }
    free(s);
    return arr;
}

static double num(const cJSON *o, const char *path)
{
    /* path: "a.b.c" */
    char buf[200];
    snprintf(buf, sizeof buf, "%s", path);
    const cJSON *cur = o;
    for (char *k = strtok(buf, "."); k; k = strtok(NULL, "."))
        cur = cJSON_GetObjectItemCaseSensitive(cur, k);
    if (!cJSON_IsNumber(cur))
        fail_msg("%s is not a number", path);
    return cur->valuedouble;
}

/* Servers started and not yet stopped: a failing test leaves them to the group teardown. */
static tu_server *running[8];

/* Starts framewire on model with up to four more arguments (NULL ends them early). */
static void start_server4(tu_server *s, const char *model, const char *e1, const char *e2,
                          const char *e3, const char *e4)
{
    const char *args[] = {"--model", model, "--stats-interval-ms", "0", e1, e2, e3, e4, NULL};
    if (tu_server_start(s, args) != 0)
        fail_msg("server did not start:\n%s", s->output);
    for (int i = 0; i < 8; i++)
        if (!running[i]) {
            running[i] = s;
            break;
        }
}

static void start_server(tu_server *s, const char *model, const char *extra1, const char *extra2)
{
    start_server4(s, model, extra1, extra2, NULL, NULL);
}

static void forget_server(tu_server *s)
{
    for (int i = 0; i < 8; i++)
        if (running[i] == s)
            running[i] = NULL;
}

static void stop_server(tu_server *s)
{
    forget_server(s);
    int st = tu_server_stop(s, SIGTERM, 20000);
    assert_true(st >= 0);
}

static char *port_str(const tu_server *s)
{
    static char p[16];
    snprintf(p, sizeof p, "%d", s->port);
    return p;
}

/* A solid-colour JPEG (4:2:0, quality 90) made with TurboJPEG. */
static uint8_t *solid_jpeg(int w, int h, int r, int g, int b, size_t *len)
{
    uint8_t *rgb = malloc((size_t)w * h * 3);
    for (int i = 0; i < w * h; i++) {
        rgb[3 * i] = (uint8_t)r;
        rgb[3 * i + 1] = (uint8_t)g;
        rgb[3 * i + 2] = (uint8_t)b;
    }
    tjhandle tj = tjInitCompress();
    unsigned char *out = NULL;
    unsigned long olen = 0;
    assert_int_equal(tjCompress2(tj, rgb, w, 0, h, TJPF_RGB, &out, &olen, TJSAMP_420, 90, 0), 0);
    tjDestroy(tj);
    free(rgb);
    uint8_t *copy = malloc(olen);
    memcpy(copy, out, olen);
    tjFree(out);
    *len = olen;
    return copy;
}

static void write_bytes(const char *path, const uint8_t *b, size_t len, const char *mode)
{
    FILE *f = fopen(path, mode);
    assert_non_null(f);
    assert_int_equal(fwrite(b, 1, len, f), len);
    fclose(f);
}

/* The answers a recording holds, keyed by the position of their frame (1-based), read directly
 * with the format's reader (not through the tools). answers[seq] = parsed message. */
static int recorded_answers(const char *path, cJSON **answers, int max, int64_t *span)
{
    char err[300];
    fw_rec_reader *r = fw_rec_open(path, err, sizeof err);
    if (!r)
        fail_msg("%s", err);
    uint64_t ids[64];
    int nframes = 0;
    int64_t first = 0, last = 0;
    fw_rec_record rec;
    while (fw_rec_next(r, &rec, err, sizeof err) == 1) {
        if (rec.type == FW_REC_FRAME) {
            assert_true(nframes < 64);
            ids[nframes++] = rec.frame_id;
            if (nframes == 1)
                first = rec.ts_us;
            last = rec.ts_us;
        } else if (rec.type == FW_REC_SERVER_TEXT) {
            cJSON *j = cJSON_Parse((const char *)rec.payload);
            assert_non_null(j);
            const cJSON *fid = cJSON_GetObjectItemCaseSensitive(j, "frame_id");
            int seq = 0;
            for (int i = nframes - 1; i >= 0 && cJSON_IsNumber(fid); i--)
                if (ids[i] == (uint64_t)fid->valuedouble) {
                    seq = i + 1;
                    break;
                }
            if (seq > 0 && seq <= max) {
                cJSON_Delete(answers[seq]);
                answers[seq] = j;
            } else {
                cJSON_Delete(j);
            }
        }
    }
    fw_rec_close(r);
    if (span)
        *span = last - first;
    return nframes;
}

/* The "top" arrays of two answers are identical: labels, indices and probabilities. */
static void assert_same_answer(const cJSON *want, const cJSON *got, int seq)
{
    const char *tw = e2e_type(want), *tg = e2e_type(got);
    if (strcmp(tw, tg) != 0)
        fail_msg("frame %d: recorded %s, replayed %s", seq, tw, tg);
    if (strcmp(tw, "error") == 0) {
        assert_string_equal(cJSON_GetObjectItem(want, "code")->valuestring,
                            cJSON_GetObjectItem(got, "code")->valuestring);
        return;
    }
    const cJSON *a = cJSON_GetObjectItem(want, "top"), *b = cJSON_GetObjectItem(got, "top");
    assert_int_equal(cJSON_GetArraySize(a), cJSON_GetArraySize(b));
    for (int i = 0; i < cJSON_GetArraySize(a); i++) {
        const cJSON *x = cJSON_GetArrayItem(a, i), *y = cJSON_GetArrayItem(b, i);
        assert_string_equal(cJSON_GetObjectItem(x, "label")->valuestring,
                            cJSON_GetObjectItem(y, "label")->valuestring);
        assert_int_equal(cJSON_GetObjectItem(x, "index")->valueint,
                         cJSON_GetObjectItem(y, "index")->valueint);
        if (cJSON_GetObjectItem(x, "prob")->valuedouble !=
            cJSON_GetObjectItem(y, "prob")->valuedouble)
            fail_msg("frame %d class %d: recorded %.6f, replayed %.6f", seq, i,
                     cJSON_GetObjectItem(x, "prob")->valuedouble,
                     cJSON_GetObjectItem(y, "prob")->valuedouble);
    }
}

/* Replays the recorded session and checks the answers equal the recorded ones. Returns the
 * replay's wall time in microseconds. */
static int64_t replay_and_check(int port, const char *pace_opt, const char *pace_val,
                                const char *out)
{
    char p[16];
    snprintf(p, sizeof p, "%d", port);
    const char *args[] = {"--port",          p,   "-o",     out,      "--compare", rec_path,
                          "--max-prob-diff", "0", pace_opt, pace_val, rec_path,    NULL};
    if (!pace_val) { /* "--fast" takes no value */
        args[8] = pace_opt;
        args[9] = rec_path;
        args[10] = NULL;
    }
    int64_t t0 = fw_now_us();
    int rc = run_tool(FW_REPLAY_BIN, args, NULL, WORK "/replay.err", 120000);
    int64_t took = fw_now_us() - t0;
    if (rc != 0)
        show_file("replay stderr", WORK "/replay.err");
    assert_int_equal(rc, 0);
    cJSON *lines = load_jsonl(out);
    assert_int_equal(cJSON_GetArraySize(lines), NREC);
    cJSON *rec[NREC + 1] = {0};
    assert_int_equal(recorded_answers(rec_path, rec, NREC, NULL), NREC);
    for (int i = 0; i < NREC; i++) {
        const cJSON *l = cJSON_GetArrayItem(lines, i);
        assert_int_equal((int)num(l, "seq"), i + 1); /* in input order */
        assert_non_null(rec[i + 1]);
        assert_same_answer(rec[i + 1], l, i + 1);
    }
    for (int i = 0; i <= NREC; i++)
        cJSON_Delete(rec[i]);
    cJSON_Delete(lines);
    char *err = slurp(WORK "/replay.err");
    assert_non_null(strstr(err, "compare: PASS"));
    assert_non_null(strstr(err, "top-1 agreement 100.00%"));
    free(err);
    return took;
}

static int setup(void **state)
{
    (void)state;
    mkdir(FW_TEST_WORK_DIR, 0755);
    mkdir(WORK, 0755);
    if (system("rm -rf " REC_DIR " " KILL_DIR) != 0)
        return -1;
    return e2e_setup(MODELS "/tiny.json");
}

static int teardown(void **state)
{
    (void)state;
    for (int i = 0; i < 8; i++)
        if (running[i] && running[i]->pid > 0)
            tu_server_stop(running[i], SIGKILL, 5000);
    e2e_teardown();
    return 0;
}

/* ---- 1. record, then replay: identical answers ---- */

static void test_record_then_replay_identical(void **state)
{
    (void)state;
    static tu_server s; /* static: the teardown can still stop it after a failure */
    start_server(&s, MODELS "/tiny.json", "--record", REC_DIR);
    fw_client *c = e2e_connect(s.port);
    cJSON_Delete(e2e_hello(c));
    e2e_send_text(c, "{\"type\":\"config\",\"top_k\":3}");
    cJSON *cfg = e2e_next(c);
    assert_string_equal(e2e_type(cfg), "config");
    cJSON_Delete(cfg);
    /* Two rounds of photos, 60 ms apart (a stream with timing), and one bad frame. */
    int sent = 0, answers = 0;
    for (int round = 0; round < 2; round++)
        for (int i = 0; i < e2e_nphotos && sent < NREC; i++) {
            if (sent == 4) {
                assert_int_equal(
                    fw_client_send_frame(c, 500 + sent, (uint64_t)fw_wall_us(), "nope", 4), 0);
                sent++;
            }
            assert_int_equal(fw_client_send_frame(c, 500 + sent, (uint64_t)fw_wall_us(),
                                                  e2e_photo[i], e2e_photo_len[i]),
                             0);
            sent++;
            fw_client_flush(c, 2000);
            sleep_us(60000);
        }
    assert_int_equal(sent, NREC);
    while (answers < sent) {
        cJSON *a = e2e_next(c);
        if (cJSON_GetObjectItem(a, "frame_id"))
            answers++;
        cJSON_Delete(a);
    }
    fw_client_free(c);
    sleep_us(100000);
    stop_server(&s); /* SIGTERM: the recorder writes everything and closes the files */

    FILE *p = popen("ls " REC_DIR "/*.fwrec", "r");
    assert_non_null(p);
    assert_non_null(fgets(rec_path, sizeof rec_path, p));
    rec_path[strcspn(rec_path, "\n")] = 0;
    char extra[600];
    assert_null(fgets(extra, sizeof extra, p)); /* one session, one file */
    pclose(p);
    /* The file: META, the config, 15 frames, the server's messages, CLOSE; nothing torn. */
    char err[300];
    fw_rec_reader *r = fw_rec_open(rec_path, err, sizeof err);
    assert_non_null(r);
    fw_rec_record rec;
    int frames = 0, client_text = 0, server_text = 0, last = 0, first = 0;
    while (fw_rec_next(r, &rec, err, sizeof err) == 1) {
        if (!first)
            first = rec.type;
        last = rec.type;
        frames += rec.type == FW_REC_FRAME;
        client_text += rec.type == FW_REC_CLIENT_TEXT;
        server_text += rec.type == FW_REC_SERVER_TEXT;
        if (rec.type == FW_REC_FRAME)
            assert_true(rec.capture_us > 0 && rec.ts_us > 0);
    }
    assert_int_equal(fw_rec_torn(r), 0);
    fw_rec_close(r);
    assert_int_equal(first, FW_REC_META);
    assert_int_equal(last, FW_REC_CLOSE);
    assert_int_equal(frames, NREC);
    assert_int_equal(client_text, 1);
    assert_int_equal(server_text, 1 + 1 + NREC); /* hello, config, one answer per frame */
    cJSON *ans[NREC + 1] = {0};
    assert_int_equal(recorded_answers(rec_path, ans, NREC, &rec_span_us), NREC);
    for (int i = 1; i <= NREC; i++) {
        assert_non_null(ans[i]);
        assert_string_equal(e2e_type(ans[i]), i == 5 ? "error" : "result");
        if (i != 5)
            assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(ans[i], "top")), 3);
        cJSON_Delete(ans[i]);
    }

    /* Replay against a fresh server with the same model: as fast as possible (lossless), at the
     * original timing, and 4x faster; every time the same answers as recorded. */
    static tu_server s2;
    start_server(&s2, MODELS "/tiny.json", NULL, NULL);
    replay_and_check(s2.port, "--fast", NULL, WORK "/replay-fast.jsonl");
    int64_t t1 = replay_and_check(s2.port, "--speed", "1", WORK "/replay-1x.jsonl");
    int64_t t4 = replay_and_check(s2.port, "--speed", "4", WORK "/replay-4x.jsonl");
    /* Paced replays cannot be faster than the recorded timing allows (no upper bound tested). */
    assert_true(rec_span_us > 500000);
    assert_true(t1 >= rec_span_us * 9 / 10);
    assert_true(t4 >= rec_span_us / 4 * 9 / 10);
    /* --dump prints the recording's own answers in the same form. */
    const char *dargs[] = {"--dump", rec_path, NULL};
    assert_int_equal(run_tool(FW_REPLAY_BIN, dargs, WORK "/dump.jsonl", NULL, 30000), 0);
    cJSON *dump = load_jsonl(WORK "/dump.jsonl");
    assert_int_equal(cJSON_GetArraySize(dump), NREC);
    cJSON_Delete(dump);
    stop_server(&s2);
}

/* ---- 2. a recording survives the server being killed ---- */

static void test_recording_survives_sigkill(void **state)
{
    (void)state;
    static tu_server s; /* static: the teardown can still stop it after a failure */
    start_server(&s, MODELS "/tiny.json", "--record", KILL_DIR);
    fw_client *c = e2e_connect(s.port);
    cJSON_Delete(e2e_hello(c));
    for (int i = 0; i < 10; i++)
        fw_client_send_frame(c, i + 1, (uint64_t)fw_wall_us(), e2e_photo[i % e2e_nphotos],
                             e2e_photo_len[i % e2e_nphotos]);
    for (int got = 0; got < 10;) {
        cJSON *a = e2e_next(c);
        got += cJSON_GetObjectItem(a, "frame_id") != NULL;
        cJSON_Delete(a);
    }
    /* Wait until the writer thread has caught up (the file stops growing), then kill -9 with the
     * session still open. */
    char path[600];
    FILE *p = popen("ls " KILL_DIR "/*.fwrec", "r");
    assert_non_null(fgets(path, sizeof path, p));
    pclose(p);
    path[strcspn(path, "\n")] = 0;
    off_t last = -1;
    for (int stable = 0, i = 0; stable < 3 && i < 100; i++) {
        struct stat st;
        stat(path, &st);
        stable = st.st_size == last ? stable + 1 : 0;
        last = st.st_size;
        sleep_us(100000);
    }
    forget_server(&s);
    tu_server_stop(&s, SIGKILL, 5000);
    fw_client_free(c);
    char err[300];
    fw_rec_reader *r = fw_rec_open(path, err, sizeof err);
    assert_non_null(r);
    fw_rec_record rec;
    int frames = 0, closes = 0;
    while (fw_rec_next(r, &rec, err, sizeof err) == 1) {
        frames += rec.type == FW_REC_FRAME;
        closes += rec.type == FW_REC_CLOSE;
    }
    fw_rec_close(r);
    assert_int_equal(frames, 10);
    assert_int_equal(closes, 0); /* killed: no close record, and still readable */
    /* Cut it in the middle of its last record, as a kill during a write would: the tools still
     * read every complete frame. */
    size_t len;
    uint8_t *b = tu_read_file(path, &len);
    write_bytes(WORK "/torn.fwrec", b, len - 7, "wb");
    free(b);
    cJSON *ans[16] = {0};
    int n = recorded_answers(WORK "/torn.fwrec", ans, 15, NULL);
    assert_int_equal(n, 10);
    for (int i = 0; i < 16; i++)
        cJSON_Delete(ans[i]);
    static tu_server s2;
    start_server(&s2, MODELS "/tiny.json", NULL, NULL);
    const char *args[] = {"--port", port_str(&s2), "--fast", WORK "/torn.fwrec", NULL};
    assert_int_equal(run_tool(FW_REPLAY_BIN, args, WORK "/torn.jsonl", WORK "/torn.err", 60000), 0);
    cJSON *lines = load_jsonl(WORK "/torn.jsonl");
    assert_int_equal(cJSON_GetArraySize(lines), 10);
    cJSON_Delete(lines);
    char *e = slurp(WORK "/torn.err");
    assert_non_null(strstr(e, "ends early")); /* the note says the file was torn */
    free(e);
    stop_server(&s2);
}

/* ---- 3. other inputs: JPEG directory, MJPEG, video ---- */

static void test_replay_inputs(void **state)
{
    (void)state;
    static tu_server s; /* static: the teardown can still stop it after a failure */
    start_server(&s, MODELS "/tiny.json", NULL, NULL);
    /* A directory of JPEGs: one line per file, in name order, each the in-process answer. */
    const char *a1[] = {"--port",  port_str(&s), "--top-k",         "4", "--fps", "50",
                        "--speed", "1",          FW_TEST_PHOTO_DIR, NULL};
    assert_int_equal(run_tool(FW_REPLAY_BIN, a1, WORK "/dir.jsonl", WORK "/dir.err", 60000), 0);
    cJSON *lines = load_jsonl(WORK "/dir.jsonl");
    assert_int_equal(cJSON_GetArraySize(lines), e2e_nphotos);
    for (int i = 0; i < e2e_nphotos; i++) {
        const cJSON *l = cJSON_GetArrayItem(lines, i);
        const char *name = strrchr(e2e_photo_path[i], '/') + 1;
        assert_string_equal(cJSON_GetObjectItem(l, "source")->valuestring, name);
        e2e_check_result(l, e2e_photo[i], e2e_photo_len[i], 4);
        assert_true(num(l, "latency_us") > 0);
    }
    cJSON_Delete(lines);
    char *progress = slurp(WORK "/dir.err");
    assert_non_null(strstr(progress, "answered")); /* the progress line */
    free(progress);

    /* The same photos as one MJPEG file: the same answers (compared with --compare). */
    char mj[600];
    snprintf(mj, sizeof mj, "%s/photos.mjpeg", WORK);
    unlink(mj);
    for (int i = 0; i < e2e_nphotos; i++)
        write_bytes(mj, e2e_photo[i], e2e_photo_len[i], "ab");
    const char *a2[] = {"--port",          port_str(&s),      "--top-k", "4", "--compare",
                        WORK "/dir.jsonl", "--max-prob-diff", "0",       mj,  NULL};
    int rc = run_tool(FW_REPLAY_BIN, a2, WORK "/mjpeg.jsonl", WORK "/mjpeg.err", 60000);
    if (rc != 0)
        show_file("replay stderr", WORK "/mjpeg.err");
    assert_int_equal(rc, 0);

    /* Any video through ffmpeg (installed by scripts/deps.sh). */
    char cmd[1200];
    snprintf(cmd, sizeof cmd,
             "ffmpeg -nostdin -v error -y -f lavfi -i testsrc=size=160x120:rate=10 -frames:v 12 "
             "-c:v mpeg4 -pix_fmt yuv420p %s/clip.mp4",
             WORK);
    assert_int_equal(system(cmd), 0);
    const char *a3[] = {"--port", port_str(&s), WORK "/clip.mp4", NULL};
    rc = run_tool(FW_REPLAY_BIN, a3, WORK "/video.jsonl", WORK "/video.err", 60000);
    if (rc != 0)
        show_file("replay stderr", WORK "/video.err");
    assert_int_equal(rc, 0);
    lines = load_jsonl(WORK "/video.jsonl");
    assert_int_equal(cJSON_GetArraySize(lines), 12);
    for (int i = 0; i < 12; i++)
        assert_string_equal(e2e_type(cJSON_GetArrayItem(lines, i)), "result");
    cJSON_Delete(lines);

    /* Bad inputs: clear messages, exit status 2. */
    const char *a4[] = {"--port", port_str(&s), WORK "/no-such-file", NULL};
    assert_int_equal(run_tool(FW_REPLAY_BIN, a4, NULL, WORK "/bad.err", 30000), 2);
    char *e = slurp(WORK "/bad.err");
    assert_non_null(strstr(e, "no-such-file"));
    free(e);
    write_bytes(WORK "/not-video.txt", (const uint8_t *)"just text\n", 10, "wb");
    const char *a5[] = {"--port", port_str(&s), WORK "/not-video.txt", NULL};
    assert_int_equal(run_tool(FW_REPLAY_BIN, a5, NULL, WORK "/bad.err", 30000), 2);
    e = slurp(WORK "/bad.err");
    assert_non_null(strstr(e, "ffmpeg"));
    free(e);
    stop_server(&s);
    /* No server: exit status 3 with the reason. */
    const char *a6[] = {"--port", "1", FW_TEST_PHOTO_DIR, NULL};
    assert_int_equal(run_tool(FW_REPLAY_BIN, a6, NULL, WORK "/bad.err", 30000), 3);
}

/* ---- 4. --compare against a second model ---- */

static void test_compare_second_model(void **state)
{
    (void)state;
    assert_true(rec_path[0]);
    static tu_server s; /* static: the teardown can still stop it after a failure */
    start_server(&s, MODELS "/tiny_alt.json", NULL, NULL);
    const char *args[] = {"--port",         port_str(&s),     "--fast", "--compare", rec_path,
                          "--compare-json", WORK "/cmp.json", rec_path, NULL};
    int rc = run_tool(FW_REPLAY_BIN, args, WORK "/alt.jsonl", WORK "/alt.err", 60000);
    if (rc != 1)
        show_file("replay stderr", WORK "/alt.err");
    assert_int_equal(rc, 1);
    cJSON *cmp = load_json(WORK "/cmp.json");
    assert_false(cJSON_IsTrue(cJSON_GetObjectItem(cmp, "pass")));
    assert_int_equal((int)num(cmp, "both"), NREC);
    assert_true(num(cmp, "differ") >= 1);
    assert_true(num(cmp, "top1_agreement_pct") < 100);
    assert_true(num(cmp, "max_prob_diff") > 0.001);
    const cJSON *frames = cJSON_GetObjectItem(cmp, "frames");
    assert_int_equal(cJSON_GetArraySize(frames), (int)num(cmp, "differ"));
    /* Each listed frame really differs between the two outputs. */
    cJSON *rec[NREC + 1] = {0};
    recorded_answers(rec_path, rec, NREC, NULL);
    cJSON *lines = load_jsonl(WORK "/alt.jsonl");
    int flips = 0;
    for (int i = 0; i < cJSON_GetArraySize(frames); i++) {
        int seq = (int)num(cJSON_GetArrayItem(frames, i), "seq");
        const cJSON *old = rec[seq], *neu = cJSON_GetArrayItem(lines, seq - 1);
        assert_int_equal((int)num(neu, "seq"), seq);
        if (strcmp(e2e_type(old), "result") != 0)
            continue;
        const cJSON *o0 = cJSON_GetArrayItem(cJSON_GetObjectItem(old, "top"), 0);
        const cJSON *n0 = cJSON_GetArrayItem(cJSON_GetObjectItem(neu, "top"), 0);
        int same = num(o0, "index") == num(n0, "index");
        flips += !same;
        assert_true(!same || fabs(num(o0, "prob") - num(n0, "prob")) > 0.001);
    }
    assert_true(flips >= 1);
    assert_int_equal(flips, (int)num(cmp, "both") - (int)num(cmp, "top1_agree"));
    for (int i = 0; i <= NREC; i++)
        cJSON_Delete(rec[i]);
    cJSON_Delete(lines);
    cJSON_Delete(cmp);
    char *e = slurp(WORK "/alt.err");
    assert_non_null(strstr(e, "compare: FAIL"));
    assert_non_null(strstr(e, "frames differ"));
    free(e);
    stop_server(&s);
}

/* ---- the slow model's frames ---- */

/* A directory: a white frame (stalls tiny_slow), 58 grey ones, and a truncated JPEG (error). */
static void make_stall_dir(const char *dir)
{
    mkdir(dir, 0755);
    size_t len;
    char path[700];
    uint8_t *w = solid_jpeg(64, 64, 255, 255, 255, &len);
    snprintf(path, sizeof path, "%s/000-white.jpg", dir);
    write_bytes(path, w, len, "wb");
    free(w);
    for (int i = 1; i < 59; i++) {
        uint8_t *g = solid_jpeg(64, 64, 60 + 2 * i, 120, 90, &len);
        snprintf(path, sizeof path, "%s/%03d-grey.jpg", dir, i);
        write_bytes(path, g, len, "wb");
        if (i == 58) {
            snprintf(path, sizeof path, "%s/059-truncated.jpg", dir);
            write_bytes(path, g, len / 2, "wb");
        }
        free(g);
    }
}

/* An MJPEG: one white frame then 199 grey ones (a stall every 200 frames). */
static void make_stall_mjpeg(const char *path)
{
    size_t wl, gl;
    uint8_t *w = solid_jpeg(64, 64, 255, 255, 255, &wl);
    uint8_t *g = solid_jpeg(64, 64, 100, 120, 90, &gl);
    write_bytes(path, w, wl, "wb");
    for (int i = 0; i < 199; i++)
        write_bytes(path, g, gl, "ab");
    free(w);
    free(g);
}

static void metrics(int port, double v[5])
{
    char *body = NULL, err[200];
    assert_int_equal(fwtool_http_get("127.0.0.1", port, "/metrics", &body, 5000, err, sizeof err),
                     200);
    v[0] = fwtool_prom_value(body, "framewire_frames_received_total");
    v[1] = fwtool_prom_value(body, "framewire_frames_total{outcome=\"result\"}");
    v[2] = fwtool_prom_value(body, "framewire_frames_total{outcome=\"error\"}");
    v[3] = fwtool_prom_value(body, "framewire_frames_total{outcome=\"dropped_superseded\"}");
    v[4] = fwtool_prom_value(body, "framewire_frames_total{outcome=\"dropped_stale\"}");
    for (int i = 0; i < 5; i++)
        assert_true(v[i] >= 0);
    free(body);
}

/* ---- 5. the profiler's counts agree with /metrics; the stall shows in open loop only ---- */

static void test_profiler_counts_and_stall(void **state)
{
    (void)state;
    static tu_server s; /* static: the teardown can still stop it after a failure */
    /* More frames in flight per session than the default, so frames wait in the decode queue
     * during a stall and newer ones supersede them; one inference thread, so that a stall holds
     * up every frame behind it (with two, the other thread would go on). */
    start_server4(&s, MODELS "/tiny_slow.json", "--max-inflight", "16", "--infer-threads", "1");
    make_stall_dir(WORK "/stall-dir");

    /* Realtime with an 80 ms freshness budget, 2 streams: results, drops (superseded or stale,
     * behind each stall) and errors (the truncated file) all happen; the server's counters must
     * move by exactly the profiler's counts. */
    double before[5], after[5];
    metrics(s.port, before);
    const char *a1[] = {"--port",       port_str(&s),
                        "-n",           "2",
                        "-r",           "40",
                        "-d",           "2.5",
                        "-w",           "0.5",
                        "--max-age-ms", "80",
                        "--frames",     WORK "/stall-dir",
                        "--json",       WORK "/counts.json",
                        "-q",           NULL};
    int rc = run_tool(FW_PROFILE_BIN, a1, WORK "/counts.txt", WORK "/counts.err", 120000);
    if (rc != 0)
        show_file("profile stderr", WORK "/counts.err");
    assert_int_equal(rc, 0);
    metrics(s.port, after);
    cJSON *j = load_json(WORK "/counts.json");
    const cJSON *run = cJSON_GetObjectItem(j, "run");
    double sent = num(run, "counts.sent"), results = num(run, "counts.results"),
           errors = num(run, "counts.errors"), sup = num(run, "counts.dropped_superseded"),
           stale = num(run, "counts.dropped_stale");
    assert_true(results > 0 && errors > 0 && sup + stale > 0);
    assert_int_equal((int)num(run, "counts.unanswered"), 0);
    assert_int_equal((int)sent, (int)(results + errors + sup + stale));
    assert_int_equal((int)(after[0] - before[0]), (int)sent);
    assert_int_equal((int)(after[1] - before[1]), (int)results);
    assert_int_equal((int)(after[2] - before[2]), (int)errors);
    assert_int_equal((int)(after[3] - before[3]), (int)sup);
    assert_int_equal((int)(after[4] - before[4]), (int)stale);
    /* The profiler read the same counters itself. */
    assert_int_equal((int)num(run, "server_metrics.received"), (int)sent);
    assert_int_equal((int)num(run, "server_metrics.result"), (int)results);
    char *table = slurp(WORK "/counts.txt");
    assert_non_null(strstr(table, "agrees with the counts above"));
    free(table);
    cJSON_Delete(j);

    /* Lossless, one stream at 100 fps, a white frame every 200: open loop. */
    make_stall_mjpeg(WORK "/stall.mjpeg");
    const char *a2[] = {"--port",   port_str(&s),
                        "-r",       "100",
                        "-d",       "4",
                        "-w",       "0.5",
                        "--policy", "lossless",
                        "--frames", WORK "/stall.mjpeg",
                        "--json",   WORK "/open.json",
                        "-q",       NULL};
    rc = run_tool(FW_PROFILE_BIN, a2, NULL, WORK "/open.err", 120000);
    if (rc != 0)
        show_file("profile stderr", WORK "/open.err");
    assert_int_equal(rc, 0);
    j = load_json(WORK "/open.json");
    run = cJSON_GetObjectItem(j, "run");
    double stall = num(run, "breakdown_ms.infer.max");
    double open_p99 = num(run, "latency_ms.p99");
    double open_p50 = num(run, "latency_ms.p50");
    assert_int_equal((int)num(run, "measured.results"), (int)num(run, "measured.sent"));
    fprintf(stderr, "stall %.1f ms: open loop p50 %.2f ms, p99 %.2f ms\n", stall, open_p50,
            open_p99);
    assert_true(stall >= 20);
    assert_true(open_p99 >= 0.5 * stall); /* the frames due during a stall all waited */
    cJSON_Delete(j);

    /* The same server and frames, closed loop: the stall is one frame in 200, under 1%. */
    const char *a3[] = {"--port",
                        port_str(&s),
                        "-d",
                        "3",
                        "-w",
                        "0.5",
                        "--policy",
                        "lossless",
                        "--frames",
                        WORK "/stall.mjpeg",
                        "--closed-loop",
                        "--json",
                        WORK "/closed.json",
                        "-q",
                        NULL};
    rc = run_tool(FW_PROFILE_BIN, a3, NULL, WORK "/closed.err", 120000);
    if (rc != 0)
        show_file("profile stderr", WORK "/closed.err");
    assert_int_equal(rc, 0);
    j = load_json(WORK "/closed.json");
    run = cJSON_GetObjectItem(j, "run");
    double c_stall = num(run, "breakdown_ms.infer.max");
    double c_p99 = num(run, "latency_ms.p99"), c_max = num(run, "latency_ms.max");
    double c_n = num(run, "measured.results");
    fprintf(stderr, "closed loop: %.0f frames, p99 %.2f ms, max %.2f ms (stall %.1f ms)\n", c_n,
            c_p99, c_max, c_stall);
    assert_true(c_n >= 200); /* with a stall every 200 frames, stalls are <= 1% of them */
    assert_true(c_max >= 0.5 * c_stall); /* it did hit stalls... */
    assert_true(c_p99 < 0.5 * c_stall);  /* ...and its p99 does not show them */
    assert_true(open_p99 > 2 * c_p99);
    cJSON_Delete(j);
    stop_server(&s);
}

/* ---- 6. outputs: table, JSON, CSV, HTML rendered by Chromium; the sweep ---- */

/* PNG width and height from its IHDR; 0 when not a PNG. */
static int png_size(const char *path, int *w, int *h, size_t *bytes)
{
    size_t len;
    uint8_t *b = tu_read_file(path, &len);
    *bytes = len;
    if (!b || len < 24 || memcmp(b, "\x89PNG\r\n\x1a\n", 8) != 0 || memcmp(b + 12, "IHDR", 4)) {
        free(b);
        return 0;
    }
    *w = b[16] << 24 | b[17] << 16 | b[18] << 8 | b[19];
    *h = b[20] << 24 | b[21] << 16 | b[22] << 8 | b[23];
    free(b);
    return 1;
}

static int screenshot(const char *html, const char *png)
{
    /* Chromium puts its singleton socket in $TMPDIR and a Unix socket path must fit in 108
     * bytes, which the work folder of a deep checkout does not: use a short folder in /tmp. */
    char tmp[] = "/tmp/fw-chromium-XXXXXX";
    if (!mkdtemp(tmp))
        return -1;
    char cmd[2000];
    unlink(png);
    snprintf(cmd, sizeof cmd,
             "cd %s && TMPDIR=%s timeout 120 chromium --headless --no-sandbox --disable-gpu "
             "--disable-quic --no-first-run --disable-background-networking "
             "--disable-component-update --disable-sync --user-data-dir=%s/chromium-profile "
             "--window-size=1000,1600 --screenshot=%s file://%s >%s/chromium.log 2>&1; "
             "rc=$?; rm -rf %s; exit $rc",
             WORK, tmp, WORK, png, html, WORK, tmp);
    return system(cmd);
}

static void test_profiler_outputs_and_html(void **state)
{
    (void)state;
    static tu_server s; /* static: the teardown can still stop it after a failure */
    start_server(&s, MODELS "/tiny.json", NULL, NULL);
    const char *a1[] = {"--port", port_str(&s),
                        "-n",     "2",
                        "-r",     "25",
                        "-d",     "1.5",
                        "-w",     "0.3",
                        "--json", WORK "/out.json",
                        "--csv",  WORK "/out.csv",
                        "--html", WORK "/report.html",
                        NULL};
    int rc = run_tool(FW_PROFILE_BIN, a1, WORK "/out.txt", WORK "/out.err", 60000);
    if (rc != 0)
        show_file("profile stderr", WORK "/out.err");
    assert_int_equal(rc, 0);
    char *table = slurp(WORK "/out.txt");
    assert_non_null(strstr(table, "intended->answer"));
    assert_non_null(strstr(table, "p99.9"));
    assert_non_null(strstr(table, "infer"));
    assert_non_null(strstr(table, "clock sync          offset"));
    free(table);
    char *progress = slurp(WORK "/out.err");
    assert_non_null(strstr(progress, "profile:"));
    free(progress);
    cJSON *j = load_json(WORK "/out.json");
    const cJSON *run = cJSON_GetObjectItem(j, "run");
    assert_int_equal((int)num(run, "counts.sent"), 2 * (int)floor(1.8 * 25 + 1e-9));
    double p50 = num(run, "latency_ms.p50"), p90 = num(run, "latency_ms.p90"),
           p99 = num(run, "latency_ms.p99"),
           p999 = cJSON_GetObjectItem(cJSON_GetObjectItem(run, "latency_ms"), "p99.9")->valuedouble,
           mx = num(run, "latency_ms.max");
    assert_true(0 < p50 && p50 <= p90 && p90 <= p99 && p99 <= p999 && p999 <= mx);
    assert_true(num(run, "breakdown_ms.uplink.count") > 0); /* clock sync worked */
    assert_true(num(run, "breakdown_ms.downlink.count") > 0);
    assert_true(num(run, "batch_size.mean") >= 1);
    cJSON_Delete(j);
    /* CSV: a header and one row with as many fields. */
    char *csv = slurp(WORK "/out.csv");
    char *nl = strchr(csv, '\n');
    assert_non_null(nl);
    int hdr = 1, row = 1;
    for (char *p = csv; p < nl; p++)
        hdr += *p == ',';
    for (char *p = nl + 1; *p && *p != '\n'; p++)
        row += *p == ',';
    assert_int_equal(hdr, row);
    assert_true(strncmp(nl + 1, "2,25,realtime,open,", 19) == 0);
    free(csv);
    /* HTML: self-contained (no script, no external reference), SVG plots. */
    char *html = slurp(WORK "/report.html");
    assert_null(strstr(html, "<script"));
    assert_null(strstr(html, "http://"));
    assert_null(strstr(html, "https://"));
    assert_non_null(strstr(html, "Latency of each frame over time"));
    assert_non_null(strstr(html, "Latency by percentile"));
    assert_non_null(strstr(html, "<polyline"));
    assert_non_null(strstr(html, "<circle"));
    free(html);
    /* Headless Chromium renders it; its screenshot carries far more than a blank page's. */
    write_bytes(WORK "/blank.html", (const uint8_t *)"<!doctype html><title>x</title>", 31, "wb");
    assert_int_equal(screenshot(WORK "/report.html", WORK "/report.png"), 0);
    assert_int_equal(screenshot(WORK "/blank.html", WORK "/blank.png"), 0);
    int w = 0, h = 0;
    size_t rep_bytes, blank_bytes;
    assert_true(png_size(WORK "/report.png", &w, &h, &rep_bytes));
    assert_int_equal(w, 1000);
    assert_int_equal(h, 1600);
    assert_true(png_size(WORK "/blank.png", &w, &h, &blank_bytes));
    fprintf(stderr, "screenshot: report %zu bytes, blank page %zu bytes\n", rep_bytes, blank_bytes);
    assert_true(rep_bytes > 5 * blank_bytes);

    /* Sweep, an easy target: doubles from 20 to the cap, every step passes. */
    const char *a2[] = {"--port",
                        port_str(&s),
                        "--sweep",
                        "-r",
                        "20",
                        "--max-fps",
                        "80",
                        "--p99-target-ms",
                        "10000",
                        "-d",
                        "0.6",
                        "-w",
                        "0.2",
                        "--json",
                        WORK "/sweep1.json",
                        "--html",
                        WORK "/sweep.html",
                        "-q",
                        NULL};
    rc = run_tool(FW_PROFILE_BIN, a2, WORK "/sweep1.txt", WORK "/sweep1.err", 120000);
    if (rc != 0)
        show_file("profile stderr", WORK "/sweep1.err");
    assert_int_equal(rc, 0);
    j = load_json(WORK "/sweep1.json");
    const cJSON *steps = cJSON_GetObjectItem(j, "steps");
    assert_int_equal(cJSON_GetArraySize(steps), 3);
    for (int i = 0; i < 3; i++) {
        assert_int_equal((int)num(cJSON_GetArrayItem(steps, i), "fps_per_stream"), 20 << i);
        assert_true(cJSON_IsTrue(cJSON_GetObjectItem(cJSON_GetArrayItem(steps, i), "pass")));
    }
    assert_int_equal((int)num(j, "sweep.best_fps_per_stream"), 80);
    cJSON_Delete(j);
    html = slurp(WORK "/sweep.html");
    assert_non_null(strstr(html, "Sweep: p99 latency by rate"));
    free(html);
    /* An impossible target: halves down from 20, nothing passes, exit status 1. */
    const char *a3[] = {
        "--port", port_str(&s), "--sweep", "-r",  "20",     "--p99-target-ms",   "0.001",
        "-d",     "0.4",        "-w",      "0.1", "--json", WORK "/sweep2.json", "-q",
        NULL};
    rc = run_tool(FW_PROFILE_BIN, a3, WORK "/sweep2.txt", WORK "/sweep2.err", 120000);
    assert_int_equal(rc, 1);
    j = load_json(WORK "/sweep2.json");
    steps = cJSON_GetObjectItem(j, "steps");
    assert_true(cJSON_GetArraySize(steps) >= 2);
    double prev = 1e9;
    for (int i = 0; i < cJSON_GetArraySize(steps); i++) {
        const cJSON *st = cJSON_GetArrayItem(steps, i);
        assert_false(cJSON_IsTrue(cJSON_GetObjectItem(st, "pass")));
        assert_true(num(st, "fps_per_stream") < prev);
        prev = num(st, "fps_per_stream");
    }
    assert_true(
        cJSON_IsNull(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "sweep"), "best_fps_per_stream")));
    cJSON_Delete(j);
    stop_server(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_record_then_replay_identical),
        cmocka_unit_test(test_recording_survives_sigkill),
        cmocka_unit_test(test_replay_inputs),
        cmocka_unit_test(test_compare_second_model),
        cmocka_unit_test(test_profiler_counts_and_stall),
        cmocka_unit_test(test_profiler_outputs_and_html),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
