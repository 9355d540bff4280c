/* main.c - the `framewire` command: parse options, start the server, stop on SIGINT/SIGTERM. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libwebsockets.h>

#include "fw_messages.h"
#include "fw_server.h"
#include "fw_torch.h"

static fw_server *g_server;

static void on_signal(int sig)
{
    (void)sig;
    if (g_server)
        fw_server_request_stop(g_server);
}

static void usage(FILE *f, const char *argv0)
{
    fw_server_config d = fw_server_default_config();
    fprintf(
        f,
        "Usage: %s --model MANIFEST.json [options]\n"
        "\n"
        "Real-time image classification over WebSocket: clients send JPEG frames, framewire\n"
        "decodes them (libjpeg-turbo), runs the TorchScript model named by the manifest\n"
        "(libtorch) and answers every frame with a JSON result or error. See docs/protocol.md.\n"
        "\n"
        "Model:\n"
        "  -m, --model PATH         model manifest (JSON beside the TorchScript file); required\n"
        "      --device DEV         libtorch device: cpu, cuda, cuda:N (default %s)\n"
        "      --no-optimize        skip freeze + optimize_for_inference at load\n"
        "Network:\n"
        "  -H, --host ADDR          address to listen on (default %s; 0.0.0.0 for all)\n"
        "  -p, --port N             port, 0 for any free one (default %d)\n"
        "  -s, --static-dir DIR     serve files from DIR at / (default: none)\n"
        "Work:\n"
        "      --decode-threads N   JPEG decode + preprocess threads (default %d)\n"
        "      --torch-threads N    libtorch intra-op threads (default %d)\n"
        "      --max-batch N        largest inference batch (default %d)\n"
        "      --queue N            frames waiting for decode, all sessions (default %d)\n"
        "      --top-k N            classes per result unless a client asks (default %d)\n"
        "Limits (per connection unless said):\n"
        "      --max-message-bytes N  larger binary messages close with 1009 (default %zu)\n"
        "      --max-pixels N       largest declared JPEG width*height (default %llu)\n"
        "      --max-inflight N     unanswered frames before the socket is paused (default %d)\n"
        "      --max-clients N      concurrent WebSocket sessions, all clients (default %d)\n"
        "      --accept-truncated   decode truncated/corrupt-tail JPEGs instead of rejecting\n"
        "Recording:\n"
        "      --record DIR         write every session (frames, client and server messages,\n"
        "                           timestamps) to DIR/*.fwrec; see docs/recording.md\n"
        "Other:\n"
        "  -v, --verbose            more libwebsockets logging\n"
        "  -h, --help               this text\n"
        "  -V, --version            version of framewire and libtorch\n"
        "\n"
        "On start it prints 'listening on http://HOST:PORT/'. SIGINT or SIGTERM stop it.\n",
        argv0, d.pipeline.device, d.host, d.port, d.pipeline.decode_threads,
        d.pipeline.torch_threads, d.pipeline.max_batch, d.pipeline.queue_capacity, d.top_k,
        d.max_message_bytes, (unsigned long long)d.pipeline.limits.max_pixels, d.max_inflight,
        d.max_clients);
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
    OPT_TORCH_THREADS,
    OPT_MAX_BATCH,
    OPT_QUEUE,
    OPT_TOPK,
    OPT_MAX_MSG,
    OPT_MAX_PIX,
    OPT_MAX_INFLIGHT,
    OPT_MAX_CLIENTS,
    OPT_ACCEPT_TRUNC,
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
        {"decode-threads", required_argument, 0, OPT_DEC_THREADS},
        {"torch-threads", required_argument, 0, OPT_TORCH_THREADS},
        {"max-batch", required_argument, 0, OPT_MAX_BATCH},
        {"queue", required_argument, 0, OPT_QUEUE},
        {"top-k", required_argument, 0, OPT_TOPK},
        {"max-message-bytes", required_argument, 0, OPT_MAX_MSG},
        {"max-pixels", required_argument, 0, OPT_MAX_PIX},
        {"max-inflight", required_argument, 0, OPT_MAX_INFLIGHT},
        {"max-clients", required_argument, 0, OPT_MAX_CLIENTS},
        {"accept-truncated", no_argument, 0, OPT_ACCEPT_TRUNC},
        {"record", required_argument, 0, OPT_RECORD},
        {"verbose", no_argument, 0, 'v'},
        {"help", no_argument, 0, 'h'},
        {"version", no_argument, 0, 'V'},
        {0, 0, 0, 0},
    };
    fw_server_config cfg = fw_server_default_config();
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
        case OPT_DEC_THREADS:
            cfg.pipeline.decode_threads = (int)num_arg("decode-threads", optarg, 1, 64);
            break;
        case OPT_TORCH_THREADS:
            cfg.pipeline.torch_threads = (int)num_arg("torch-threads", optarg, 1, 256);
            break;
        case OPT_MAX_BATCH:
            cfg.pipeline.max_batch = (int)num_arg("max-batch", optarg, 1, 256);
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
            cfg.pipeline.limits.max_pixels = (uint64_t)num_arg("max-pixels", optarg, 1, 1LL << 32);
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
    printf("listening on http://%s:%d/\n", shown, fw_server_port(s));
    fflush(stdout);

    g_server = s;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    fw_server_run(s);
    g_server = NULL;
    fw_server_free(s);
    printf("framewire: stopped\n");
    return 0;
}
