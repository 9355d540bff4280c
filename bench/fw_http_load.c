/* fw_http_load.c - closed-loop (or paced) HTTP POST load, one keep-alive connection per client
 * thread. See fw_http_load.h. */
#define _GNU_SOURCE
#include "fw_http_load.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "fw_time.h"
#include "test_util.h"

struct client {
    const fw_http_load_cfg *cfg;
    int index;
    int64_t t0, warm, end;
    fw_http_load_out out; /* this thread's; merged after the join */
    size_t lat_cap;
    int connected_once;
};

static int dial(int port)
{
    int fd = tu_connect_loopback(port);
    if (fd < 0)
        return -1;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    /* A server that stops answering counts as errors, not as a benchmark that never ends. */
    struct timeval tmo = {.tv_sec = 30};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tmo, sizeof tmo);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tmo, sizeof tmo);
    return fd;
}

/* Receives more bytes into buf[have..cap-1), NUL-terminated; -1 when the connection failed,
 * timed out, or buf is full. */
static int recv_more(int fd, char *buf, size_t cap, size_t *have)
{
    for (;;) {
        if (*have + 1 >= cap)
            return -1;
        ssize_t r = recv(fd, buf + *have, cap - 1 - *have, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        *have += (size_t)r;
        buf[*have] = 0;
        return 0;
    }
}

static int send_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n) {
        ssize_t w = send(fd, c, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        c += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Reads one response. Returns 1 for a 200 whose body holds a result, 0 for another answer,
 * -1 when the connection failed; *keep is 0 when the server will close it. */
static int read_response(int fd, char *buf, size_t cap, int *keep)
{
    size_t have = 0;
    char *hend = NULL;
    while (!hend) {
        if (recv_more(fd, buf, cap, &have) != 0)
            return -1;
        hend = strstr(buf, "\r\n\r\n");
    }
    int status = 0;
    sscanf(buf, "HTTP/1.%*d %d", &status);
    *hend = 0;
    const char *cl = strcasestr(buf, "\r\ncontent-length:");
    long body = cl ? atol(cl + 17) : -1;
    *keep = !strcasestr(buf, "\r\nconnection: close") && !strncmp(buf, "HTTP/1.1", 8) && body >= 0;
    size_t head = (size_t)(hend - buf) + 4;
    if (body < 0 || head + (size_t)body >= cap)
        return -1;
    while (have < head + (size_t)body)
        if (recv_more(fd, buf, cap, &have) != 0)
            return -1;
    buf[head + (size_t)body] = 0;
    return status == 200 && strstr(buf + head, "\"result\"") ? 1 : 0;
}

static void sleep_until(int64_t t)
{
    int64_t left = t - fw_now_us();
    if (left <= 0)
        return;
    struct timespec ts = {left / 1000000, (long)(left % 1000000) * 1000};
    nanosleep(&ts, NULL);
}

static void *client_main(void *arg)
{
    struct client *c = arg;
    const fw_http_load_cfg *cfg = c->cfg;
    enum { CAP = 1 << 20 };
    char *buf = malloc(CAP);
    int fd = -1;
    int64_t period = cfg->fps > 0 ? (int64_t)(1e6 / cfg->fps) : 0;
    /* Clients start spread over one period, like framewire-profile's streams. */
    int64_t next = c->t0 + (period ? period * c->index / cfg->clients : 0);
    for (uint64_t k = (uint64_t)c->index;; k++) {
        int64_t intended = period ? next : fw_now_us();
        if (intended >= c->end)
            break;
        sleep_until(intended);
        next += period;
        if (fd < 0 && (fd = dial(cfg->port)) < 0) {
            c->out.errors++;
            continue;
        }
        c->connected_once = 1;
        int f = (int)(k % (uint64_t)cfg->nframes);
        char head[256];
        int hn = snprintf(head, sizeof head,
                          "POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: image/jpeg\r\n"
                          "Content-Length: %zu\r\n\r\n",
                          cfg->path, cfg->frame_len[f]);
        int keep = 0, rc = -1;
        if (send_all(fd, head, (size_t)hn) == 0 &&
            send_all(fd, cfg->frames[f], cfg->frame_len[f]) == 0)
            rc = read_response(fd, buf, CAP, &keep);
        int64_t now = fw_now_us();
        int measured = intended >= c->warm && intended < c->end;
        if (rc == 1) {
            if (now >= c->warm && now < c->end)
                c->out.arrived++;
            if (measured) {
                c->out.results++;
                if (c->out.nlat == c->lat_cap) {
                    c->lat_cap = c->lat_cap ? 2 * c->lat_cap : 1024;
                    c->out.lat_us = realloc(c->out.lat_us, c->lat_cap * sizeof(int64_t));
                }
                c->out.lat_us[c->out.nlat++] = now - intended;
            }
        } else if (measured) {
            c->out.errors++;
        }
        if (rc < 0 || !keep) {
            close(fd);
            fd = -1;
        }
    }
    if (fd >= 0)
        close(fd);
    free(buf);
    return NULL;
}

int fw_http_load_run(const fw_http_load_cfg *cfg, fw_http_load_out *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    struct client *cl = calloc((size_t)cfg->clients, sizeof *cl);
    pthread_t *th = calloc((size_t)cfg->clients, sizeof *th);
    if (!cl || !th) {
        free(cl);
        free(th);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    int64_t t0 = fw_now_us() + 100000;
    int started = 0;
    for (int i = 0; i < cfg->clients; i++) {
        cl[i] = (struct client){.cfg = cfg, .index = i, .t0 = t0};
        cl[i].warm = t0 + (int64_t)(cfg->warmup_s * 1e6);
        cl[i].end = cl[i].warm + (int64_t)(cfg->duration_s * 1e6);
        if (pthread_create(&th[i], NULL, client_main, &cl[i]) != 0)
            break;
        started++;
    }
    int connected = 0;
    for (int i = 0; i < started; i++) {
        pthread_join(th[i], NULL);
        connected += cl[i].connected_once;
        out->results += cl[i].out.results;
        out->errors += cl[i].out.errors;
        out->arrived += cl[i].out.arrived;
        out->lat_us = realloc(out->lat_us, (out->nlat + cl[i].out.nlat + 1) * sizeof(int64_t));
        memcpy(out->lat_us + out->nlat, cl[i].out.lat_us, cl[i].out.nlat * sizeof(int64_t));
        out->nlat += cl[i].out.nlat;
        free(cl[i].out.lat_us);
    }
    free(cl);
    free(th);
    if (!connected) {
        snprintf(err, errlen, "no client could connect to 127.0.0.1:%d", cfg->port);
        return -1;
    }
    return 0;
}
