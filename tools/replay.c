/* replay.c - `framewire-replay`: sends a recording, a JPEG directory, an MJPEG file or a video to
 * a framewire server, paced by the original timing, a speed factor or as fast as possible, writes
 * every answer as a JSON line, and optionally compares the answers with an earlier run
 * (--compare) to check a new model version against recorded traffic. See docs/tools.md. */
#define _GNU_SOURCE
#include <cjson/cJSON.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libwebsockets.h>

#include "fw_answer.h"
#include "fw_client_pool.h"
#include "fw_recording.h"
#include "fw_results.h"
#include "fw_source.h"
#include "fw_time.h"
#include "fw_toolutil.h"

#define PROG "framewire-replay"
#define PACED_BACKLOG 64 /* frames queued in the client before pacing waits */

enum { EXIT_OK = 0, EXIT_COMPARE = 1, EXIT_USAGE = 2, EXIT_SERVER = 3 };

/* A frame sent and not yet answered-and-printed, in a ring indexed by seq. */
struct slot {
    uint64_t seq; /* 0 = free */
    int64_t sent_mono;
    char *line; /* the answer's output line, once answered */
    char source[256];
    uint64_t orig_frame_id;
    int has_orig;
};

struct replay {
    /* options */
    const char *host;
    int port;
    double speed; /* 0 = as fast as possible */
    const char *policy;
    int top_k; /* 0 = the recording's or the server's */
    int progress;
    uint64_t limit;
    int timeout_s;

    fw_pool *pool;
    int connected, failed, closed, close_code;
    char why[256];
    int hello, max_inflight;
    int config_acked, config_error;
    char config_err[256];

    FILE *out;
    fw_rset *results; /* for --compare */

    struct slot *ring;
    size_t ring_cap;     /* power of two */
    uint64_t next_print; /* lowest seq not printed yet */
    uint64_t sent, answered, results_n, errors, dropped;
    int64_t last_answer_mono;
};

static volatile sig_atomic_t g_stop;

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: " PROG " [options] INPUT\n"
            "\n"
            "Sends INPUT's frames to a framewire server and writes its answers as JSON lines (one\n"
            "per frame, with \"seq\": the frame's position in INPUT, in order).\n"
            "INPUT: a recording (.fwrec, from framewire --record), a directory of .jpg files\n"
            "(sorted by name), an MJPEG file (or one .jpg), or any video ffmpeg can read.\n"
            "\n"
            "Server:\n"
            "  -H, --host ADDR        server address (default 127.0.0.1)\n"
            "  -p, --port N           server port (default 8080)\n"
            "      --policy P         lossless (default: every frame answered) or realtime\n"
            "      --top-k N          classes per result (default: the recording's, else the\n"
            "                         server's)\n"
            "Pacing:\n"
            "      --fast             as fast as possible: keep the server's max_inflight frames\n"
            "                         in flight (the default)\n"
            "      --speed X          original timing (X = 1), or X times faster\n"
            "      --fps N            timing of JPEG directories and MJPEG files (default 30;\n"
            "                         a video's own rate when ffprobe knows it)\n"
            "      --limit N          stop after N frames\n"
            "      --timeout S        give up when no answer came for S seconds (default 30)\n"
            "Output:\n"
            "  -o, --out FILE         JSON lines to FILE (default stdout)\n"
            "  -q, --quiet            no progress line on stderr\n"
            "      --dump             print a recording's own answers as JSON lines (no server)\n"
            "Compare (exit status 1 when the check fails):\n"
            "      --compare OLD      compare the answers with OLD: JSON lines from an earlier\n"
            "                         run, or a recording (its answers)\n"
            "      --max-prob-diff P  largest allowed probability change of a class (default\n"
            "                         0.001)\n"
            "      --min-agreement PCT  smallest allowed top-1 agreement (default 100)\n"
            "      --compare-json FILE  also write the comparison as JSON\n"
            "  -h, --help             this text\n"
            "\n"
            "Exit status: 0 ok, 1 comparison failed, 2 bad usage or input, 3 server or network\n"
            "trouble (including frames left unanswered).\n");
}

/* ---- answers ---- */

static struct slot *slot_for(struct replay *r, uint64_t seq)
{
    return &r->ring[seq & (r->ring_cap - 1)];
}

/* Makes room for seq in the ring (grows it when the span of open frames needs it). */
static int ring_reserve(struct replay *r, uint64_t seq)
{
    if (r->ring_cap && seq - r->next_print < r->ring_cap)
        return 0;
    size_t ncap = r->ring_cap ? r->ring_cap : 256;
    while (seq - r->next_print >= ncap)
        ncap *= 2;
    struct slot *n = calloc(ncap, sizeof *n);
    if (!n)
        return -1;
    for (size_t i = 0; i < r->ring_cap; i++)
        if (r->ring[i].seq)
            n[r->ring[i].seq & (ncap - 1)] = r->ring[i];
    free(r->ring);
    r->ring = n;
    r->ring_cap = ncap;
    return 0;
}

static void flush_lines(struct replay *r)
{
    while (r->ring_cap) {
        struct slot *s = slot_for(r, r->next_print);
        if (s->seq != r->next_print || !s->line)
            break;
        fputs(s->line, r->out);
        fputc('\n', r->out);
        free(s->line);
        memset(s, 0, sizeof *s);
        r->next_print++;
    }
}

/* The output line: seq, where the frame came from, the server's fields, the client's latency. */
static char *output_line(const struct slot *s, const char *text, size_t len, int64_t latency)
{
    char head[700], src[600] = "", tail[64] = "";
    if (s->source[0]) {
        char q[520];
        fwtool_json_string(q, sizeof q, s->source);
        snprintf(src, sizeof src, ",\"source\":%s", q);
    }
    int n = snprintf(head, sizeof head, "\"seq\":%" PRIu64 "%s", s->seq, src);
    if (s->has_orig)
        snprintf(head + n, sizeof head - (size_t)n, ",\"orig_frame_id\":%" PRIu64,
                 s->orig_frame_id);
    if (latency >= 0)
        snprintf(tail, sizeof tail, "\"latency_us\":%" PRId64, latency);
    return fwtool_splice_json(text, len, head, tail);
}

static void on_connect(void *user, int conn, int ok, const char *why)
{
    (void)conn;
    struct replay *r = user;
    if (ok) {
        r->connected = 1;
    } else {
        r->failed = 1;
        snprintf(r->why, sizeof r->why, "%s", why ? why : "connection failed");
    }
}

static void on_close(void *user, int conn, int code)
{
    (void)conn;
    struct replay *r = user;
    r->closed = 1;
    r->close_code = code;
}

static void on_text(void *user, int conn, const char *text, size_t len, int64_t mono, int64_t wall)
{
    (void)conn;
    (void)wall;
    struct replay *r = user;
    static fw_answer a; /* large; one thread */
    char err[200];
    if (fw_answer_parse(text, len, &a, err, sizeof err) != 0) {
        fprintf(stderr, PROG ": unreadable server message (%s): %.200s\n", err, text);
        return;
    }
    switch (a.type) {
    case FW_SMSG_HELLO:
        r->hello = 1;
        r->max_inflight = a.max_inflight > 0 ? a.max_inflight : 4;
        return;
    case FW_SMSG_CONFIG:
        r->config_acked++;
        return;
    case FW_SMSG_ERROR:
        if (!a.has_frame_id) {
            r->config_error = 1;
            snprintf(r->config_err, sizeof r->config_err, "%.*s", (int)(len < 200 ? len : 200),
                     text);
            return;
        }
        break;
    case FW_SMSG_RESULT:
    case FW_SMSG_DROPPED:
        break;
    default:
        return; /* pong, stats, future types */
    }
    uint64_t seq = a.frame_id;
    struct slot *s = r->ring_cap ? slot_for(r, seq) : NULL;
    if (!s || s->seq != seq || s->line) {
        fprintf(stderr, PROG ": answer for frame %" PRIu64 " that is not in flight: %.200s\n", seq,
                text);
        return;
    }
    s->line = output_line(s, text, len, mono - s->sent_mono);
    if (!s->line) {
        fprintf(stderr, PROG ": out of memory\n");
        exit(EXIT_SERVER);
    }
    r->answered++;
    r->last_answer_mono = mono;
    if (a.type == FW_SMSG_RESULT)
        r->results_n++;
    else if (a.type == FW_SMSG_ERROR)
        r->errors++;
    else
        r->dropped++;
    if (r->results && fw_rset_add(r->results, seq, &a) != 0) {
        fprintf(stderr, PROG ": out of memory\n");
        exit(EXIT_SERVER);
    }
    flush_lines(r);
}

static void release_frame(void *arg)
{
    free(arg);
}

/* ---- the run ---- */

static void service(struct replay *r, int64_t until)
{
    fw_pool_service(r->pool, until);
}

/* Waits (servicing) until cond(r) or the deadline; returns cond(r). */
static int wait_for(struct replay *r, int (*cond)(struct replay *), int timeout_ms)
{
    int64_t deadline = fw_now_us() + (int64_t)timeout_ms * 1000;
    while (!cond(r) && !r->failed && !r->closed && !g_stop && fw_now_us() < deadline)
        service(r, deadline);
    return cond(r);
}

static int is_ready(struct replay *r)
{
    return r->connected && r->hello;
}

static int config_done(struct replay *r)
{
    return r->config_acked > 0 || r->config_error;
}

static int send_config(struct replay *r, int top_k)
{
    char msg[160];
    int n;
    if (top_k > 0)
        n = snprintf(msg, sizeof msg, "{\"type\":\"config\",\"policy\":\"%s\",\"top_k\":%d}",
                     r->policy, top_k);
    else
        n = snprintf(msg, sizeof msg, "{\"type\":\"config\",\"policy\":\"%s\"}", r->policy);
    return fw_pool_send_text(r->pool, 0, msg, (size_t)n);
}

static void progress(struct replay *r, int force, int64_t t0)
{
    if (!r->progress)
        return;
    double el = (double)(fw_now_us() - t0) / 1e6;
    fwtool_progress(force,
                    "replay: %" PRIu64 " sent, %" PRIu64 " answered (%" PRIu64 " results, %" PRIu64
                    " errors, %" PRIu64 " dropped), %.1f frames/s, %.1f s",
                    r->sent, r->answered, r->results_n, r->errors, r->dropped,
                    el > 0 ? (double)r->answered / el : 0.0, el);
}

/* Sends every frame of src; returns an exit status. */
static int run(struct replay *r, fw_source *src)
{
    char err[512];
    fw_pool_callbacks cb = {.on_connect = on_connect, .on_text = on_text, .on_close = on_close};
    r->pool = fw_pool_new(r->host, r->port, &cb, r, err, sizeof err);
    if (!r->pool || fw_pool_connect(r->pool, err, sizeof err) != 0) {
        fprintf(stderr, PROG ": %s\n", err);
        return EXIT_SERVER;
    }
    if (!wait_for(r, is_ready, 10000)) {
        fprintf(stderr, PROG ": cannot connect to ws://%s:%d/: %s\n", r->host, r->port,
                r->failed   ? r->why
                : r->closed ? "closed by the server"
                            : "timed out");
        return EXIT_SERVER;
    }
    int cur_top_k = r->top_k;
    send_config(r, cur_top_k);
    if (!wait_for(r, config_done, 10000) || r->config_error) {
        fprintf(stderr, PROG ": the server refused the session settings (policy %s): %s\n",
                r->policy, r->config_error ? r->config_err : "no answer");
        return EXIT_SERVER;
    }
    int window = r->max_inflight;
    int64_t t0 = fw_now_us();
    r->last_answer_mono = t0;
    r->next_print = 1;
    fw_source_frame f;
    int have = 0, done = 0, rc = EXIT_OK;
    while (!g_stop) {
        if (!have && !done) {
            if (r->limit && r->sent >= r->limit) {
                done = 1;
            } else {
                int n = fw_source_next(src, &f, err, sizeof err);
                if (n < 0) {
                    fprintf(stderr, "\n" PROG ": %s\n", err);
                    rc = EXIT_USAGE;
                    done = 1;
                } else if (n == 0) {
                    done = 1;
                } else {
                    have = 1;
                }
            }
        }
        if (r->failed || r->closed)
            break;
        int64_t now = fw_now_us();
        int64_t wake = now + 100000;
        if (have) {
            uint64_t open = r->sent - r->answered;
            int can;
            if (r->speed <= 0) {
                can = open < (uint64_t)window;
            } else {
                int64_t due = t0 + (int64_t)((double)f.ts_us / r->speed);
                can = now >= due && fw_pool_backlog(r->pool, 0) < PACED_BACKLOG;
                if (now < due && due < wake)
                    wake = due;
            }
            if (can) {
                if (!r->top_k && f.top_k > 0 && f.top_k != cur_top_k) {
                    cur_top_k = f.top_k; /* the recorded session changed (or set) its top-k */
                    send_config(r, cur_top_k);
                }
                if (ring_reserve(r, f.seq) != 0) {
                    fprintf(stderr, PROG ": out of memory\n");
                    return EXIT_SERVER;
                }
                struct slot *s = slot_for(r, f.seq);
                memset(s, 0, sizeof *s);
                s->seq = f.seq;
                s->sent_mono = fw_now_us();
                snprintf(s->source, sizeof s->source, "%s", f.name);
                s->has_orig = fw_source_get_kind(src) == FW_SRC_RECORDING;
                s->orig_frame_id = f.orig_frame_id;
                if (fw_pool_send_frame(r->pool, 0, f.seq, FW_POOL_STAMP_AT_SEND, f.data, f.len,
                                       release_frame, f.data) != 0) {
                    fprintf(stderr, PROG ": the connection closed while sending\n");
                    break;
                }
                r->sent++;
                have = 0;
                continue; /* maybe more are due right away */
            }
        }
        if (done && r->answered == r->sent)
            break;
        if (now - r->last_answer_mono > (int64_t)r->timeout_s * 1000000 && r->sent > r->answered) {
            fprintf(stderr, "\n" PROG ": no answer for %d s; giving up\n", r->timeout_s);
            break;
        }
        service(r, wake);
        progress(r, 0, t0);
    }
    if (have)
        free(f.data);
    progress(r, 1, t0);
    if (r->progress)
        fwtool_progress_end();
    if (g_stop)
        fprintf(stderr, PROG ": interrupted\n");
    if (r->closed && r->answered < r->sent)
        fprintf(stderr, PROG ": the server closed the connection (code %d)\n", r->close_code);
    if (r->failed)
        fprintf(stderr, PROG ": connection failed: %s\n", r->why);
    /* Frames without an answer are reported in order, so the output still has a line per frame. */
    if (r->answered < r->sent) {
        fprintf(stderr, PROG ": %" PRIu64 " of %" PRIu64 " frames got no answer\n",
                r->sent - r->answered, r->sent);
        for (uint64_t q = r->next_print; q < r->next_print + r->ring_cap; q++) {
            struct slot *s = slot_for(r, q);
            if (s->seq == q && !s->line) {
                char txt[128];
                snprintf(txt, sizeof txt, "{\"type\":\"missing\",\"frame_id\":%" PRIu64 "}", q);
                s->line = output_line(s, txt, strlen(txt), -1);
            }
        }
        flush_lines(r);
        if (rc == EXIT_OK)
            rc = EXIT_SERVER;
    }
    if (rc == EXIT_OK && (r->failed || g_stop))
        rc = EXIT_SERVER;
    return rc;
}

static void add_recorded(uint64_t seq, const char *line, void *user)
{
    char err[200];
    fw_rset *s = user;
    if (fw_rset_add_line(s, line, strlen(line), err, sizeof err) < 0)
        fprintf(stderr, PROG ": recorded answer %" PRIu64 ": %s\n", seq, err);
}

static void print_line(uint64_t seq, const char *line, void *user)
{
    (void)seq;
    fprintf((FILE *)user, "%s\n", line);
}

/* Loads the answers to compare with: JSON lines, or a recording's answers. */
static fw_rset *load_old(const char *path)
{
    char err[512], note[300];
    fw_rset *s = fw_rset_new();
    if (!s)
        return NULL;
    int rc = fw_rec_is_recording(path)
                 ? fw_recording_answers(path, add_recorded, s, note, sizeof note, err, sizeof err)
                 : fw_rset_load_jsonl(s, path, err, sizeof err);
    if (rc != 0) {
        fprintf(stderr, PROG ": --compare: %s\n", err);
        fw_rset_free(s);
        return NULL;
    }
    return s;
}

int main(int argc, char **argv)
{
    enum {
        OPT_POLICY = 256,
        OPT_TOPK,
        OPT_FAST,
        OPT_SPEED,
        OPT_FPS,
        OPT_LIMIT,
        OPT_TIMEOUT,
        OPT_DUMP,
        OPT_COMPARE,
        OPT_MAXDIFF,
        OPT_MINAGREE,
        OPT_CMPJSON,
    };
    static const struct option opts[] = {
        {"host", required_argument, 0, 'H'},
        {"port", required_argument, 0, 'p'},
        {"policy", required_argument, 0, OPT_POLICY},
        {"top-k", required_argument, 0, OPT_TOPK},
        {"fast", no_argument, 0, OPT_FAST},
        {"speed", required_argument, 0, OPT_SPEED},
        {"fps", required_argument, 0, OPT_FPS},
        {"limit", required_argument, 0, OPT_LIMIT},
        {"timeout", required_argument, 0, OPT_TIMEOUT},
        {"out", required_argument, 0, 'o'},
        {"quiet", no_argument, 0, 'q'},
        {"dump", no_argument, 0, OPT_DUMP},
        {"compare", required_argument, 0, OPT_COMPARE},
        {"max-prob-diff", required_argument, 0, OPT_MAXDIFF},
        {"min-agreement", required_argument, 0, OPT_MINAGREE},
        {"compare-json", required_argument, 0, OPT_CMPJSON},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    struct replay r = {.host = "127.0.0.1",
                       .port = 8080,
                       .speed = 0,
                       .policy = "lossless",
                       .progress = 1,
                       .timeout_s = 30};
    fw_source_options so = {0};
    fw_cmp_options co = fw_cmp_default_options();
    const char *out_path = NULL, *compare = NULL, *cmp_json = NULL;
    int dump = 0, c;
    while ((c = getopt_long(argc, argv, "H:p:o:qh", opts, NULL)) != -1) {
        switch (c) {
        case 'H':
            r.host = optarg;
            break;
        case 'p':
            r.port = (int)fwtool_int_arg(PROG, "port", optarg, 1, 65535);
            break;
        case OPT_POLICY:
            if (strcmp(optarg, "lossless") != 0 && strcmp(optarg, "realtime") != 0) {
                fprintf(stderr, PROG ": --policy: 'lossless' or 'realtime', not '%s'\n", optarg);
                return EXIT_USAGE;
            }
            r.policy = optarg;
            break;
        case OPT_TOPK:
            r.top_k = (int)fwtool_int_arg(PROG, "top-k", optarg, 1, 100);
            break;
        case OPT_FAST:
            r.speed = 0;
            break;
        case OPT_SPEED:
            r.speed = fwtool_double_arg(PROG, "speed", optarg, 0.001, 1e6);
            break;
        case OPT_FPS:
            so.fps = fwtool_double_arg(PROG, "fps", optarg, 0.01, 10000);
            break;
        case OPT_LIMIT:
            r.limit = (uint64_t)fwtool_int_arg(PROG, "limit", optarg, 1, 1LL << 40);
            break;
        case OPT_TIMEOUT:
            r.timeout_s = (int)fwtool_int_arg(PROG, "timeout", optarg, 1, 86400);
            break;
        case 'o':
            out_path = optarg;
            break;
        case 'q':
            r.progress = 0;
            break;
        case OPT_DUMP:
            dump = 1;
            break;
        case OPT_COMPARE:
            compare = optarg;
            break;
        case OPT_MAXDIFF:
            co.max_prob_diff = fwtool_double_arg(PROG, "max-prob-diff", optarg, 0, 1);
            break;
        case OPT_MINAGREE:
            co.min_agreement_pct = fwtool_double_arg(PROG, "min-agreement", optarg, 0, 100);
            break;
        case OPT_CMPJSON:
            cmp_json = optarg;
            break;
        case 'h':
            usage(stdout);
            return EXIT_OK;
        default:
            fprintf(stderr, "Try '" PROG " --help'.\n");
            return EXIT_USAGE;
        }
    }
    if (optind != argc - 1) {
        fprintf(stderr, PROG ": one INPUT is needed. Try '" PROG " --help'.\n");
        return EXIT_USAGE;
    }
    const char *input = argv[optind];
    r.out = stdout;
    if (out_path && !(r.out = fopen(out_path, "w"))) {
        perror(out_path);
        return EXIT_USAGE;
    }
    char err[512];
    if (dump) {
        if (!fw_rec_is_recording(input)) {
            fprintf(stderr, PROG ": --dump: %s is not a framewire recording\n", input);
            return EXIT_USAGE;
        }
        char note[300];
        int rc = fw_recording_answers(input, print_line, r.out, note, sizeof note, err, sizeof err);
        if (rc != 0)
            fprintf(stderr, PROG ": %s\n", err);
        if (note[0])
            fprintf(stderr, PROG ": note: %s\n", note);
        if (r.out != stdout)
            fclose(r.out);
        return rc ? EXIT_USAGE : EXIT_OK;
    }

    fw_rset *old = NULL;
    if (compare) {
        if (!(old = load_old(compare)))
            return EXIT_USAGE;
        r.results = fw_rset_new();
    }
    fw_source *src = fw_source_open(input, &so, err, sizeof err);
    if (!src) {
        fprintf(stderr, PROG ": %s\n", err);
        return EXIT_USAGE;
    }
    if (r.progress) {
        double fps = fw_source_fps(src);
        fprintf(stderr, PROG ": %s %s, %s, policy %s\n",
                fw_source_kind_name(fw_source_get_kind(src)), input,
                r.speed <= 0 ? "as fast as possible" : "paced", r.policy);
        if (r.speed > 0 && fps > 0)
            fprintf(stderr, PROG ": timing: %.2f frames/s x %.3g\n", fps, r.speed);
    }
    lws_set_log_level(LLL_ERR, NULL);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    int rc = run(&r, src);
    if (fw_source_note(src))
        fprintf(stderr, PROG ": note: %s\n", fw_source_note(src));
    fw_source_close(src);
    fw_pool_free(r.pool);
    for (size_t i = 0; i < r.ring_cap; i++)
        free(r.ring[i].line);
    free(r.ring);
    fflush(r.out);
    if (r.out != stdout)
        fclose(r.out);

    if (old && r.results) {
        fw_cmp_report rep;
        if (fw_cmp_run(old, r.results, &co, &rep) != 0) {
            fprintf(stderr, PROG ": out of memory\n");
            rc = EXIT_SERVER;
        } else {
            fw_cmp_print(stderr, &rep, &co);
            if (cmp_json) {
                FILE *jf = fopen(cmp_json, "w");
                if (!jf) {
                    perror(cmp_json);
                } else {
                    fw_cmp_print_json(jf, &rep, &co);
                    fputc('\n', jf);
                    fclose(jf);
                }
            }
            if (!rep.pass && rc == EXIT_OK)
                rc = EXIT_COMPARE;
            fw_cmp_report_free(&rep);
        }
    }
    fw_rset_free(old);
    fw_rset_free(r.results);
    return rc;
}
