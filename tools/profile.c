/* profile.c - `framewire-profile`: open-loop latency profiling of a framewire server. N streams
 * at a target rate each (fw_loadgen.c), warm-up and duration, realtime or lossless; reports
 * throughput, drops and errors, latency percentiles from a log-linear histogram, the server's
 * per-stage breakdown and the uplink/downlink split; --sweep searches the highest rate per stream
 * that meets a p99 target. Outputs: table (stdout), JSON, CSV, HTML. See docs/tools.md. */
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <turbojpeg.h>

#include <libwebsockets.h>

#include "fw_loadgen.h"
#include "fw_report.h"
#include "fw_source.h"
#include "fw_toolutil.h"

#define PROG "framewire-profile"
#define MAX_SWEEP_STEPS 12

static volatile sig_atomic_t g_stop;

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

static void usage(FILE *f)
{
    fprintf(
        f, "Usage: " PROG " [options]\n"
           "\n"
           "Measures a framewire server's latency under a steady load: N streams, each sending\n"
           "frames at a fixed rate whatever the server does (open loop: latency counts from each\n"
           "frame's intended send time, so a stalling server cannot hide behind fewer sends).\n"
           "\n"
           "Server:\n"
           "  -H, --host ADDR          server address (default 127.0.0.1)\n"
           "  -p, --port N             server port (default 8080)\n"
           "Load:\n"
           "  -n, --streams N          concurrent streams (WebSocket sessions; default 1)\n"
           "  -r, --fps F              frames per second per stream (default 30)\n"
           "  -d, --duration S         measured seconds (default 10)\n"
           "  -w, --warmup S           seconds sent first and not measured (default 2)\n"
           "      --drain S            longest wait for missing answers at the end (default 5)\n"
           "      --policy P           realtime (default) or lossless\n"
           "      --max-age-ms N       realtime freshness budget to ask for (default: server's)\n"
           "      --top-k N            classes per result (default: server's)\n"
           "      --frames PATH        frames to send, cycled: a .jpg, a directory of .jpg, an\n"
           "                           MJPEG file, a recording or a video (default: a synthetic\n"
           "                           640x480 JPEG)\n"
           "      --max-frames N       load at most N frames from PATH (default 300)\n"
           "      --closed-loop        the naive measurement, for contrast: one frame in flight\n"
           "                           per stream, latency from the actual send\n"
           "Sweep:\n"
           "      --sweep              find the highest fps per stream meeting the p99 target:\n"
           "                           doubles from --fps until it fails, then bisects to 10%%\n"
           "                           (halves down to --fps/8 when --fps already fails)\n"
           "      --p99-target-ms T    the target (default 50)\n"
           "      --max-loss-pct P     also fail a rate that loses more than P%% of measured\n"
           "                           frames (dropped, errors, unanswered; default 1)\n"
           "      --max-fps F          highest rate tried (default 2000)\n"
           "Output (the table always goes to stdout):\n"
           "      --json FILE          the full results as JSON\n"
           "      --csv FILE           one row per run\n"
           "      --html FILE          self-contained report with plots\n"
           "      --no-metrics         do not read the server's /metrics before and after\n"
           "  -q, --quiet              no progress line\n"
           "  -h, --help               this text\n"
           "\n"
           "Exit status: 0 ok (a sweep found a rate), 1 a sweep found none, 2 bad usage or input,\n"
           "3 the server could not be profiled.\n");
}

/* A synthetic camera-like frame: smooth gradients plus texture, encoded by TurboJPEG. */
static int synthetic_jpeg(int w, int h, uint8_t **out, size_t *len)
{
    uint8_t *rgb = malloc((size_t)w * (size_t)h * 3);
    if (!rgb)
        return -1;
    uint32_t seed = 12345;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            seed = seed * 1103515245u + 12345u;
            int noise = (int)(seed >> 27) - 16;
            uint8_t *p = rgb + ((size_t)y * (size_t)w + (size_t)x) * 3;
            int r = 60 + x * 150 / w + noise, g = 90 + y * 120 / h + noise,
                b = 128 + (int)(60 * sin((x + y) / 23.0)) + noise;
            p[0] = (uint8_t)(r < 0 ? 0 : r > 255 ? 255 : r);
            p[1] = (uint8_t)(g < 0 ? 0 : g > 255 ? 255 : g);
            p[2] = (uint8_t)(b < 0 ? 0 : b > 255 ? 255 : b);
        }
    tjhandle tj = tjInitCompress();
    unsigned char *jpeg = NULL;
    unsigned long jlen = 0;
    int rc = tj ? tjCompress2(tj, rgb, w, 0, h, TJPF_RGB, &jpeg, &jlen, TJSAMP_420, 80, 0) : -1;
    free(rgb);
    if (tj)
        tjDestroy(tj);
    if (rc != 0)
        return -1;
    *out = malloc(jlen);
    if (*out)
        memcpy(*out, jpeg, jlen);
    tjFree(jpeg);
    *len = jlen;
    return *out ? 0 : -1;
}

struct frames {
    uint8_t **data;
    size_t *len;
    int n;
    size_t bytes;
    char desc[600];
};

static int load_frames(const char *path, int max, struct frames *fr)
{
    fr->data = calloc((size_t)max, sizeof *fr->data);
    fr->len = calloc((size_t)max, sizeof *fr->len);
    if (!fr->data || !fr->len)
        return -1;
    if (!path) {
        if (synthetic_jpeg(640, 480, &fr->data[0], &fr->len[0]) != 0) {
            fprintf(stderr, PROG ": cannot make the synthetic frame\n");
            return -1;
        }
        fr->n = 1;
        snprintf(fr->desc, sizeof fr->desc, "synthetic 640x480 JPEG (%.1f KB)",
                 (double)fr->len[0] / 1024.0);
        return 0;
    }
    char err[512];
    fw_source *src = fw_source_open(path, NULL, err, sizeof err);
    if (!src) {
        fprintf(stderr, PROG ": --frames: %s\n", err);
        return -1;
    }
    fw_source_frame f;
    int rc;
    while (fr->n < max && (rc = fw_source_next(src, &f, err, sizeof err)) == 1) {
        fr->data[fr->n] = f.data;
        fr->len[fr->n] = f.len;
        fr->bytes += f.len;
        fr->n++;
    }
    fw_source_kind kind = fw_source_get_kind(src);
    fw_source_close(src);
    if (rc < 0 && fr->n < max) {
        fprintf(stderr, PROG ": --frames: %s\n", err);
        return -1;
    }
    if (fr->n == 0) {
        fprintf(stderr, PROG ": --frames: %s holds no frames\n", path);
        return -1;
    }
    snprintf(fr->desc, sizeof fr->desc, "%d frame%s from %s (%s, %.1f KB on average)", fr->n,
             fr->n == 1 ? "" : "s", path, fw_source_kind_name(kind),
             (double)fr->bytes / fr->n / 1024.0);
    return 0;
}

static int step_pass(const fw_step *s, double target_ms, double max_loss_pct)
{
    return !s->error[0] && s->m_results > 0 &&
           (double)fw_hist_percentile(&s->h->latency, 99) / 1000.0 <= target_ms &&
           100 * fw_step_loss(s) <= max_loss_pct;
}

static int write_file(const char *path, const fw_report *rep, void (*fn)(FILE *, const fw_report *))
{
    FILE *f = fopen(path, "w");
    if (!f) {
        perror(path);
        return -1;
    }
    fn(f, rep);
    if (fclose(f) != 0) {
        perror(path);
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    enum {
        OPT_DRAIN = 256,
        OPT_POLICY,
        OPT_MAXAGE,
        OPT_TOPK,
        OPT_FRAMES,
        OPT_MAXFRAMES,
        OPT_CLOSED,
        OPT_SWEEP,
        OPT_TARGET,
        OPT_MAXLOSS,
        OPT_MAXFPS,
        OPT_JSON,
        OPT_CSV,
        OPT_HTML,
        OPT_NOMETRICS,
    };
    static const struct option opts[] = {
        {"host", required_argument, 0, 'H'},
        {"port", required_argument, 0, 'p'},
        {"streams", required_argument, 0, 'n'},
        {"fps", required_argument, 0, 'r'},
        {"duration", required_argument, 0, 'd'},
        {"warmup", required_argument, 0, 'w'},
        {"drain", required_argument, 0, OPT_DRAIN},
        {"policy", required_argument, 0, OPT_POLICY},
        {"max-age-ms", required_argument, 0, OPT_MAXAGE},
        {"top-k", required_argument, 0, OPT_TOPK},
        {"frames", required_argument, 0, OPT_FRAMES},
        {"max-frames", required_argument, 0, OPT_MAXFRAMES},
        {"closed-loop", no_argument, 0, OPT_CLOSED},
        {"sweep", no_argument, 0, OPT_SWEEP},
        {"p99-target-ms", required_argument, 0, OPT_TARGET},
        {"max-loss-pct", required_argument, 0, OPT_MAXLOSS},
        {"max-fps", required_argument, 0, OPT_MAXFPS},
        {"json", required_argument, 0, OPT_JSON},
        {"csv", required_argument, 0, OPT_CSV},
        {"html", required_argument, 0, OPT_HTML},
        {"no-metrics", no_argument, 0, OPT_NOMETRICS},
        {"quiet", no_argument, 0, 'q'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    fw_load_config cfg = {.host = "127.0.0.1",
                          .port = 8080,
                          .streams = 1,
                          .fps = 30,
                          .warmup_s = 2,
                          .duration_s = 10,
                          .drain_s = 5,
                          .policy = "realtime",
                          .max_age_ms = -1,
                          .fetch_metrics = 1,
                          .progress = 1};
    const char *frames_path = NULL, *json = NULL, *csv = NULL, *html = NULL;
    int max_frames = 300, sweep = 0;
    double target = 50, max_loss = 1, max_fps = 2000;
    int c;
    while ((c = getopt_long(argc, argv, "H:p:n:r:d:w:qh", opts, NULL)) != -1) {
        switch (c) {
        case 'H':
            cfg.host = optarg;
            break;
        case 'p':
            cfg.port = (int)fwtool_int_arg(PROG, "port", optarg, 1, 65535);
            break;
        case 'n':
            cfg.streams = (int)fwtool_int_arg(PROG, "streams", optarg, 1, 10000);
            break;
        case 'r':
            cfg.fps = fwtool_double_arg(PROG, "fps", optarg, 0.01, 100000);
            break;
        case 'd':
            cfg.duration_s = fwtool_double_arg(PROG, "duration", optarg, 0.1, 86400);
            break;
        case 'w':
            cfg.warmup_s = fwtool_double_arg(PROG, "warmup", optarg, 0, 86400);
            break;
        case OPT_DRAIN:
            cfg.drain_s = fwtool_double_arg(PROG, "drain", optarg, 0, 3600);
            break;
        case OPT_POLICY:
            if (strcmp(optarg, "lossless") != 0 && strcmp(optarg, "realtime") != 0) {
                fprintf(stderr, PROG ": --policy: 'realtime' or 'lossless', not '%s'\n", optarg);
                return 2;
            }
            cfg.policy = optarg;
            break;
        case OPT_MAXAGE:
            cfg.max_age_ms = (int)fwtool_int_arg(PROG, "max-age-ms", optarg, 0, 3600000);
            break;
        case OPT_TOPK:
            cfg.top_k = (int)fwtool_int_arg(PROG, "top-k", optarg, 1, 100);
            break;
        case OPT_FRAMES:
            frames_path = optarg;
            break;
        case OPT_MAXFRAMES:
            max_frames = (int)fwtool_int_arg(PROG, "max-frames", optarg, 1, 100000);
            break;
        case OPT_CLOSED:
            cfg.closed_loop = 1;
            break;
        case OPT_SWEEP:
            sweep = 1;
            break;
        case OPT_TARGET:
            target = fwtool_double_arg(PROG, "p99-target-ms", optarg, 0.001, 1e7);
            break;
        case OPT_MAXLOSS:
            max_loss = fwtool_double_arg(PROG, "max-loss-pct", optarg, 0, 100);
            break;
        case OPT_MAXFPS:
            max_fps = fwtool_double_arg(PROG, "max-fps", optarg, 0.01, 100000);
            break;
        case OPT_JSON:
            json = optarg;
            break;
        case OPT_CSV:
            csv = optarg;
            break;
        case OPT_HTML:
            html = optarg;
            break;
        case OPT_NOMETRICS:
            cfg.fetch_metrics = 0;
            break;
        case 'q':
            cfg.progress = 0;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            fprintf(stderr, "Try '" PROG " --help'.\n");
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, PROG ": unexpected argument '%s'. Try '" PROG " --help'.\n", argv[optind]);
        return 2;
    }
    if (sweep && cfg.closed_loop) {
        fprintf(stderr, PROG ": --sweep sets rates: it cannot be combined with --closed-loop\n");
        return 2;
    }
    struct frames fr = {0};
    if (load_frames(frames_path, max_frames, &fr) != 0)
        return 2;
    cfg.frames = (const uint8_t *const *)fr.data;
    cfg.frame_lens = fr.len;
    cfg.nframes = fr.n;

    lws_set_log_level(LLL_ERR, NULL);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    fw_step steps[MAX_SWEEP_STEPS];
    int nsteps = 0, rc = 0;
    fw_report rep = {.host = cfg.host,
                     .port = cfg.port,
                     .frames_desc = fr.desc,
                     .steps = steps,
                     .sweep = sweep,
                     .p99_target_ms = target,
                     .max_loss_pct = max_loss,
                     .best = -1,
                     .detail = 0};
    if (!sweep) {
        if (fw_load_run(&cfg, &steps[0], &g_stop) != 0) {
            fprintf(stderr, PROG ": %s\n", steps[0].error);
            fw_step_free(&steps[0]);
            return 3;
        }
        nsteps = 1;
    } else {
        /* Double from --fps while the target holds, then bisect between the last pass and the
         * first failure until they are within 10% (or the steps run out). */
        double lo = 0, hi = 0, fps = cfg.fps < max_fps ? cfg.fps : max_fps, start = fps;
        while (nsteps < MAX_SWEEP_STEPS && !g_stop) {
            fw_load_config sc = cfg;
            sc.fps = fps;
            fw_step *s = &steps[nsteps++];
            if (cfg.progress)
                fprintf(stderr, PROG ": sweep step %d: %.4g fps per stream\n", nsteps, fps);
            if (fw_load_run(&sc, s, &g_stop) != 0) {
                fprintf(stderr, PROG ": %s\n", s->error);
                if (nsteps == 1) {
                    rc = 3;
                    break;
                }
            }
            s->pass = step_pass(s, target, max_loss);
            if (s->pass) {
                lo = fps;
                if (rep.best < 0 || fps > steps[rep.best].fps)
                    rep.best = nsteps - 1;
            } else {
                hi = fps;
            }
            if (!hi) {
                if (fps >= max_fps)
                    break;
                fps = fps * 2 < max_fps ? fps * 2 : max_fps;
            } else if (lo > 0) {
                if ((hi - lo) / lo <= 0.10)
                    break;
                fps = (lo + hi) / 2;
            } else {
                /* Even the first rate failed: halve, down to an eighth of it. */
                if (hi <= start / 8 * 1.0001)
                    break;
                fps = hi / 2;
            }
        }
        rep.detail = rep.best >= 0 ? rep.best : nsteps - 1;
        if (rc == 0 && rep.best < 0)
            rc = 1;
    }
    rep.nsteps = nsteps;
    if (nsteps > 0) {
        fw_report_table(stdout, &rep);
        fflush(stdout);
        if ((json && write_file(json, &rep, fw_report_json) != 0) ||
            (csv && write_file(csv, &rep, fw_report_csv) != 0) ||
            (html && write_file(html, &rep, fw_report_html) != 0))
            rc = 2;
    }
    for (int i = 0; i < nsteps; i++)
        fw_step_free(&steps[i]);
    for (int i = 0; i < fr.n; i++)
        free(fr.data[i]);
    free(fr.data);
    free(fr.len);
    if (g_stop && rc == 0)
        rc = 3;
    return rc;
}
