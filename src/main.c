/* main.c - the `framewire` command: parse options, start the server, drain and stop on
 * SIGINT/SIGTERM. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libwebsockets.h>

#include "fw_messages.h"
#include "fw_server.h"
#include "fw_torch.h"

#define MAX_ORIGINS 32

/* Written by main, read by the signal handler: a stop asked for while the model still loads
 * (g_server not yet set) is remembered in g_stop and honoured once the server exists. */
static fw_server *volatile g_server;
static volatile sig_atomic_t g_stop;

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
    fw_server *s = g_server;
    if (s)
        fw_server_request_stop(s);
}

static void usage(FILE *f, const char *argv0)
{
    fw_server_config d = fw_server_default_config();
    fprintf(f, "Usage: %s --model MANIFEST.json [options]\n\n", argv0);
    fputs("Real-time image classification over WebSocket: clients send JPEG frames, framewire\n"
          "decodes them (libjpeg-turbo), runs the TorchScript model named by the manifest\n"
          "(libtorch) and answers every frame with a JSON result, dropped notice or error.\n"
          "The same port serves HTTP: /healthz, /readyz, /metrics, /v1/models,\n"
          "POST /v1/classify and static files. See docs/protocol.md.\n\n",
          f);
    fprintf(
        f,
        "Model:\n"
        "  -m, --model PATH         model manifest (JSON beside the TorchScript file); required\n"
        "      --device DEV         libtorch device: cpu, cuda, cuda:N (default %s)\n"
        "      --no-optimize        skip freeze + optimize_for_inference at load\n",
        d.pipeline.device);
    fprintf(f,
            "Network:\n"
            "  -H, --host ADDR          address to listen on (default %s; 0.0.0.0 for all)\n"
            "  -p, --port N             port, 0 for any free one (default %d)\n"
            "  -s, --static-dir DIR     serve files from DIR at / (default: none)\n"
            "      --tls-cert FILE      PEM certificate: serve https and wss (with --tls-key)\n"
            "      --tls-key FILE       PEM private key of --tls-cert\n"
            "      --token TOKEN        require 'Authorization: Bearer TOKEN' or ?token=TOKEN on\n"
            "                           WebSocket and /v1/ requests (default: none required;\n"
            "                           FRAMEWIRE_TOKEN in the environment works too)\n"
            "      --allow-origin URL   accept WebSocket connections only from this Origin\n"
            "                           (repeatable; default: any origin)\n",
            d.host, d.port);
    fprintf(f,
            "Streams (a client can change its own with a config message):\n"
            "      --policy P           realtime (latest frame wins) or lossless (default %s)\n"
            "      --max-age-ms N       realtime: drop frames older than N ms as stale, 0 = off\n"
            "                           (default %d)\n"
            "      --top-k N            classes per result (default %d)\n"
            "      --stats-interval-ms N  periodic stats message per session, 0 = off (default "
            "%d)\n",
            fw_policy_name((fw_policy)d.policy), d.max_age_ms, d.top_k, d.stats_interval_ms);
    fprintf(f,
            "Work:\n"
            "      --decode-threads N   JPEG decode + preprocess threads (default %d)\n"
            "      --infer-threads N    inference threads: batches run side by side, each\n"
            "                           thread with its own copy of the model (default %d)\n"
            "      --torch-threads N    libtorch intra-op threads (default %d)\n"
            "      --max-batch N        largest inference batch (default %d)\n"
            "      --max-delay-us N     longest wait for a batch to fill (default %lld)\n"
            "      --queue N            frames waiting for decode, all sessions (default %d)\n",
            d.pipeline.decode_threads, d.pipeline.infer_threads, d.pipeline.torch_threads,
            d.pipeline.max_batch, (long long)d.pipeline.max_delay_us, d.pipeline.queue_capacity);
    fprintf(
        f,
        "Limits:\n"
        "      --max-message-bytes N  larger messages close with 1009, REST bodies get 413\n"
        "                           (default %zu)\n"
        "      --max-pixels N       largest declared JPEG width*height (default %llu,\n"
        "                           at most 268435456: each decode thread keeps a buffer\n"
        "                           of 3 bytes per pixel)\n"
        "      --max-inflight N     per session: unanswered frames before the server stops\n"
        "                           reading the socket (default %d)\n"
        "      --max-clients N      WebSocket sessions plus pending REST requests (default %d)\n"
        "      --accept-truncated   decode truncated/corrupt-tail JPEGs instead of rejecting\n"
        "      --drain-timeout-ms N on stop: longest wait for in-flight frames (default %d)\n"
        "Recording:\n"
        "      --record DIR         write every session (frames, client and server messages,\n"
        "                           timestamps) to DIR/*.fwrec; see docs/recording.md\n",
        d.max_message_bytes, (unsigned long long)d.pipeline.limits.max_pixels, d.max_inflight,
        d.max_clients, d.drain_timeout_ms);
    fputs("Other:\n"
          "  -v, --verbose            more libwebsockets logging\n"
          "  -h, --help               this text\n"
          "  -V, --version            version of framewire and libtorch\n"
          "\n"
          "On start it prints 'listening on http://HOST:PORT/' (https with TLS). SIGINT or\n"
          "SIGTERM stop it: no new connections or frames, in-flight frames are answered,\n"
          "WebSockets close with 1001, exit status 0.\n",
          f);
}

/* Parses a whole decimal number in [lo, hi]; exits with a message naming the option otherwise. */
static long long num_arg(const char *opt, const char *s, long long lo, long long hi)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (!*s || *end || errno || v < lo || v > hi) {
        fprintf(stderr, "framewire: --%s: '%s' is not a whole number from %lld to %lld\n", opt, s,
                lo, hi);
        exit(2);
    }
    return v;
}

enum {
    OPT_DEVICE = 256,
    OPT_NO_OPT,
    OPT_DEC_THREADS,
    OPT_INFER_THREADS,
    OPT_TORCH_THREADS,
    OPT_MAX_BATCH,
    OPT_MAX_DELAY,
    OPT_QUEUE,
    OPT_TOPK,
    OPT_MAX_MSG,
    OPT_MAX_PIX,
    OPT_MAX_INFLIGHT,
    OPT_MAX_CLIENTS,
    OPT_ACCEPT_TRUNC,
    OPT_POLICY,
    OPT_MAX_AGE,
    OPT_STATS,
    OPT_DRAIN,
    OPT_TLS_CERT,
    OPT_TLS_KEY,
    OPT_TOKEN,
    OPT_ORIGIN,
    OPT_RECORD,
};

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"model", required_argument, 0, 'm'},
        {"device", required_argument, 0, OPT_DEVICE},
        {"no-optimize", no_argument, 0, OPT_NO_OPT},
        {"host", required_argument, 0, 'H'},
        {"port", required_argument, 0, 'p'},
        {"static-dir", required_argument, 0, 's'},
        {"tls-cert", required_argument, 0, OPT_TLS_CERT},
        {"tls-key", required_argument, 0, OPT_TLS_KEY},
        {"token", required_argument, 0, OPT_TOKEN},
        {"allow-origin", required_argument, 0, OPT_ORIGIN},
        {"policy", required_argument, 0, OPT_POLICY},
        {"max-age-ms", required_argument, 0, OPT_MAX_AGE},
        {"stats-interval-ms", required_argument, 0, OPT_STATS},
        {"decode-threads", required_argument, 0, OPT_DEC_THREADS},
        {"infer-threads", required_argument, 0, OPT_INFER_THREADS},
        {"torch-threads", required_argument, 0, OPT_TORCH_THREADS},
        {"max-batch", required_argument, 0, OPT_MAX_BATCH},
        {"max-delay-us", required_argument, 0, OPT_MAX_DELAY},
        {"queue", required_argument, 0, OPT_QUEUE},
        {"top-k", required_argument, 0, OPT_TOPK},
        {"max-message-bytes", required_argument, 0, OPT_MAX_MSG},
        {"max-pixels", required_argument, 0, OPT_MAX_PIX},
        {"max-inflight", required_argument, 0, OPT_MAX_INFLIGHT},
        {"max-clients", required_argument, 0, OPT_MAX_CLIENTS},
        {"accept-truncated", no_argument, 0, OPT_ACCEPT_TRUNC},
        {"drain-timeout-ms", required_argument, 0, OPT_DRAIN},
        {"record", required_argument, 0, OPT_RECORD},
        {"verbose", no_argument, 0, 'v'},
        {"help", no_argument, 0, 'h'},
        {"version", no_argument, 0, 'V'},
        {0, 0, 0, 0},
    };
    fw_server_config cfg = fw_server_default_config();
    const char *origins[MAX_ORIGINS + 1] = {0};
    int norigins = 0;
    cfg.token = getenv("FRAMEWIRE_TOKEN");
    if (cfg.token && !*cfg.token)
        cfg.token = NULL;
    int c;
    while ((c = getopt_long(argc, argv, "m:H:p:s:vhV", opts, NULL)) != -1) {
        switch (c) {
        case 'm':
            cfg.pipeline.manifest_path = optarg;
            break;
        case OPT_DEVICE:
            cfg.pipeline.device = optarg;
            break;
        case OPT_NO_OPT:
            cfg.pipeline.optimize = 0;
            break;
        case 'H':
            cfg.host = optarg;
            break;
        case 'p':
            cfg.port = (int)num_arg("port", optarg, 0, 65535);
            break;
        case 's':
            cfg.static_dir = optarg;
            break;
        case OPT_TLS_CERT:
            cfg.tls_cert = optarg;
            break;
        case OPT_TLS_KEY:
            cfg.tls_key = optarg;
            break;
        case OPT_TOKEN:
            if (!*optarg) {
                fprintf(stderr, "framewire: --token: the token must not be empty\n");
                return 2;
            }
            cfg.token = optarg;
            break;
        case OPT_ORIGIN:
            if (norigins == MAX_ORIGINS) {
                fprintf(stderr, "framewire: --allow-origin: at most %d origins\n", MAX_ORIGINS);
                return 2;
            }
            origins[norigins++] = optarg;
            cfg.allow_origins = origins;
            break;
        case OPT_POLICY:
            if (strcmp(optarg, "realtime") == 0)
                cfg.policy = FW_POLICY_REALTIME;
            else if (strcmp(optarg, "lossless") == 0)
                cfg.policy = FW_POLICY_LOSSLESS;
            else {
                fprintf(stderr, "framewire: --policy: '%s' is not realtime or lossless\n", optarg);
                return 2;
            }
            break;
        case OPT_MAX_AGE:
            cfg.max_age_ms = (int)num_arg("max-age-ms", optarg, 0, 3600000);
            break;
        case OPT_STATS:
            cfg.stats_interval_ms = (int)num_arg("stats-interval-ms", optarg, 0, 3600000);
            break;
        case OPT_DRAIN:
            cfg.drain_timeout_ms = (int)num_arg("drain-timeout-ms", optarg, 0, 3600000);
            break;
        case OPT_DEC_THREADS:
            cfg.pipeline.decode_threads = (int)num_arg("decode-threads", optarg, 1, 64);
            break;
        case OPT_INFER_THREADS:
            cfg.pipeline.infer_threads = (int)num_arg("infer-threads", optarg, 1, 64);
            break;
        case OPT_TORCH_THREADS:
            cfg.pipeline.torch_threads = (int)num_arg("torch-threads", optarg, 1, 256);
            break;
        case OPT_MAX_BATCH:
            cfg.pipeline.max_batch = (int)num_arg("max-batch", optarg, 1, 256);
            break;
        case OPT_MAX_DELAY:
            cfg.pipeline.max_delay_us = num_arg("max-delay-us", optarg, 0, 1000000);
            break;
        case OPT_QUEUE:
            cfg.pipeline.queue_capacity = (int)num_arg("queue", optarg, 1, 1 << 20);
            break;
        case OPT_TOPK:
            cfg.top_k = (int)num_arg("top-k", optarg, 1, FW_TOPK_MAX);
            break;
        case OPT_MAX_MSG:
            cfg.max_message_bytes = (size_t)num_arg("max-message-bytes", optarg, 64, 1LL << 30);
            break;
        case OPT_MAX_PIX:
            cfg.pipeline.limits.max_pixels = (uint64_t)num_arg("max-pixels", optarg, 1, 1LL << 28);
            break;
        case OPT_MAX_INFLIGHT:
            cfg.max_inflight = (int)num_arg("max-inflight", optarg, 1, 4096);
            break;
        case OPT_MAX_CLIENTS:
            cfg.max_clients = (int)num_arg("max-clients", optarg, 1, 100000);
            break;
        case OPT_ACCEPT_TRUNC:
            cfg.pipeline.limits.accept_warnings = 1;
            break;
        case OPT_RECORD:
            cfg.record_dir = optarg;
            break;
        case 'v':
            cfg.log_level |= LLL_NOTICE | LLL_INFO;
            break;
        case 'h':
            usage(stdout, argv[0]);
            return 0;
        case 'V':
            printf("framewire %s (libtorch %s)\n", FW_VERSION, fwt_torch_version());
            return 0;
        default:
            fprintf(stderr, "Try '%s --help'.\n", argv[0]);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "framewire: unexpected argument '%s'. Try '%s --help'.\n", argv[optind],
                argv[0]);
        return 2;
    }
    if (!cfg.pipeline.manifest_path) {
        fprintf(stderr, "framewire: --model MANIFEST.json is required. Try '%s --help'.\n",
                argv[0]);
        return 2;
    }

    /* Handlers first: SIGTERM during the model's load (seconds) must stop cleanly too. */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    char err[1024];
    fw_server *s = fw_server_new(&cfg, err, sizeof err);
    if (!s) {
        fprintf(stderr, "framewire: %s\n", err);
        return 1;
    }
    const fw_model_info *mi = fw_server_model(s);
    printf("framewire %s: model %s (%dx%d, %d labels) on %s\n", FW_VERSION, mi->name,
           mi->input_width, mi->input_height, mi->num_labels, mi->device);
    const char *shown = cfg.host && strcmp(cfg.host, "0.0.0.0") ? cfg.host : "localhost";
    printf("listening on %s://%s:%d/\n", cfg.tls_cert ? "https" : "http", shown, fw_server_port(s));
    fflush(stdout);

    g_server = s;
    if (g_stop) /* asked for before g_server was set */
        fw_server_request_stop(s);

    int timed_out = fw_server_run(s);
    g_server = NULL;
    fw_server_free(s);
    if (timed_out)
        printf("framewire: stopped; the drain timed out, unfinished frames were answered "
               "'dropped: shutdown'\n");
    else
        printf("framewire: stopped\n");
    return 0;
}
