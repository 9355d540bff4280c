/* fw_toolutil.c - options, progress line, HTTP GET for the tools (see fw_toolutil.h). */
#include "fw_toolutil.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fw_time.h"

long long fwtool_int_arg(const char *prog, const char *opt, const char *s, long long lo,
                         long long hi)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (!*s || *end || errno || v < lo || v > hi) {
        fprintf(stderr, "%s: --%s: '%s' is not a whole number from %lld to %lld\n", prog, opt, s,
                lo, hi);
        exit(2);
    }
    return v;
}

double fwtool_double_arg(const char *prog, const char *opt, const char *s, double lo, double hi)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (!*s || *end || errno || !(v >= lo && v <= hi)) {
        fprintf(stderr, "%s: --%s: '%s' is not a number from %g to %g\n", prog, opt, s, lo, hi);
        exit(2);
    }
    return v;
}

static int64_t last_progress_us;
static int progress_open; /* a line without newline is on the terminal */

void fwtool_progress(int force, const char *fmt, ...)
{
    int tty = isatty(2);
    int64_t now = fw_now_us();
    int64_t every = tty ? 250000 : 2000000;
    if (!force && !last_progress_us)
        last_progress_us = now; /* the first line after one interval, not at once */
    if (!force && now - last_progress_us < every)
        return;
    last_progress_us = now;
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (tty) {
        fprintf(stderr, "\r\033[K%s", line);
        progress_open = 1;
    } else {
        fprintf(stderr, "%s\n", line);
    }
    fflush(stderr);
}

void fwtool_progress_end(void)
{
    if (progress_open)
        fputc('\n', stderr);
    progress_open = 0;
}

int fwtool_http_get(const char *host, int port, const char *path, char **body, int timeout_ms,
                    char *err, size_t errlen)
{
    *body = NULL;
    char portstr[16];
    snprintf(portstr, sizeof portstr, "%d", port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *ai = NULL;
    int g = getaddrinfo(host, portstr, &hints, &ai);
    if (g != 0) {
        snprintf(err, errlen, "%s: %s", host, gai_strerror(g));
        return -1;
    }
    int fd = -1;
    for (struct addrinfo *a = ai; a && fd < 0; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype, a->ai_protocol);
        if (fd >= 0 && connect(fd, a->ai_addr, a->ai_addrlen) != 0) {
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(ai);
    if (fd < 0) {
        snprintf(err, errlen, "cannot connect to %s:%d: %s", host, port, strerror(errno));
        return -1;
    }
    char req[1024];
    int n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: %s:%d\r\nConnection: close\r\n\r\n",
                     path, host, port);
    if (write(fd, req, (size_t)n) != n) {
        snprintf(err, errlen, "cannot send the request: %s", strerror(errno));
        close(fd);
        return -1;
    }
    size_t cap = 65536, len = 0;
    char *buf = malloc(cap);
    int64_t deadline = fw_now_us() + (int64_t)timeout_ms * 1000;
    while (buf) {
        int left = (int)((deadline - fw_now_us()) / 1000);
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (left <= 0 || poll(&p, 1, left) <= 0)
            break;
        if (len + 4096 > cap) {
            if (cap >= (64u << 20))
                break; /* a /metrics page is never that big */
            char *b = realloc(buf, cap * 2);
            if (!b)
                break;
            buf = b;
            cap *= 2;
        }
        ssize_t r = read(fd, buf + len, cap - len - 1);
        if (r <= 0)
            break;
        len += (size_t)r;
    }
    close(fd);
    if (!buf) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    buf[len] = 0;
    int status = -1;
    if (sscanf(buf, "HTTP/1.%*d %d", &status) != 1) {
        snprintf(err, errlen, "no HTTP answer from %s:%d", host, port);
        free(buf);
        return -1;
    }
    char *b = strstr(buf, "\r\n\r\n");
    *body = strdup(b ? b + 4 : "");
    free(buf);
    /* A chunked body would carry size lines; the server sends Content-Length. */
    return status;
}

double fwtool_prom_value(const char *text, const char *name)
{
    size_t nl = strlen(name);
    for (const char *p = text; p && *p;) {
        if (strncmp(p, name, nl) == 0 && (p[nl] == ' ' || p[nl] == '\t'))
            return strtod(p + nl, NULL);
        p = strchr(p, '\n');
        if (p)
            p++;
    }
    return -1;
}

char *fwtool_splice_json(const char *obj, size_t len, const char *head, const char *tail)
{
    while (len && (obj[len - 1] == '\n' || obj[len - 1] == ' ' || obj[len - 1] == '\r'))
        len--;
    size_t a = 0;
    while (a < len && (obj[a] == ' ' || obj[a] == '\t'))
        a++;
    if (len - a < 2 || obj[a] != '{' || obj[len - 1] != '}')
        return NULL;
    const char *body = obj + a + 1;
    size_t blen = len - a - 2; /* between the braces */
    size_t i = 0;
    while (i < blen && (body[i] == ' ' || body[i] == '\n'))
        i++;
    int empty = i == blen;
    head = head ? head : "";
    tail = tail ? tail : "";
    size_t n = strlen(head) + blen + strlen(tail) + 8;
    char *out = malloc(n);
    if (!out)
        return NULL;
    snprintf(out, n, "{%s%s%.*s%s%s}", head, *head && !empty ? "," : "", (int)blen, body,
             *tail && (!empty || *head) ? "," : "", tail);
    return out;
}

void fwtool_json_string(char *out, size_t cap, const char *s)
{
    cJSON *str = cJSON_CreateString(s ? s : "");
    char *txt = str ? cJSON_PrintUnformatted(str) : NULL;
    snprintf(out, cap, "%s", txt ? txt : "\"\"");
    cJSON_free(txt);
    cJSON_Delete(str);
}
