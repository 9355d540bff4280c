/* test_util.c - helpers for framewire's C tests (see test_util.h). */
#define _GNU_SOURCE /* strcasestr */
#include "test_util.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

uint8_t *tu_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc(n > 0 ? (size_t)n : 1);
    if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        b = NULL;
    }
    fclose(f);
    *len = (size_t)n;
    return b;
}

static int cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int tu_list_jpegs(const char *dir, char **paths, int max)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < max) {
        size_t l = strlen(e->d_name);
        if (l > 4 && strcmp(e->d_name + l - 4, ".jpg") == 0) {
            paths[n] = malloc(strlen(dir) + l + 2);
            sprintf(paths[n], "%s/%s", dir, e->d_name);
            n++;
        }
    }
    closedir(d);
    qsort(paths, (size_t)n, sizeof *paths, cmp);
    return n;
}

/* Runs prog with args, its stdout and stderr on *out_fd. */
static pid_t spawn_prog(const char *prog, const char *const *args, int *out_fd)
{
    int pfd[2];
    if (pipe(pfd) != 0)
        return -1;
    const char *argv[64];
    int n = 0;
    argv[n++] = prog;
    for (int i = 0; args && args[i] && n < 62; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    pid_t pid = fork();
    if (pid == 0) {
        dup2(pfd[1], 1);
        dup2(pfd[1], 2);
        close(pfd[0]);
        close(pfd[1]);
        execv(prog, (char *const *)argv);
        _exit(127);
    }
    close(pfd[1]);
    *out_fd = pfd[0];
    return pid;
}

static pid_t spawn(const char *const *args, int *out_fd)
{
    return spawn_prog(FW_SERVER_BIN, args, out_fd);
}

/* Appends what is readable on fd within wait_ms to buf. Returns bytes read, 0 on EOF, -1 none. */
static int read_some(int fd, char *buf, size_t cap, int wait_ms)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    if (poll(&p, 1, wait_ms) <= 0)
        return -1;
    size_t have = strlen(buf);
    if (have + 1 >= cap)
        return -1;
    ssize_t r = read(fd, buf + have, cap - have - 1);
    if (r <= 0)
        return 0;
    buf[have + (size_t)r] = 0;
    return (int)r;
}

/* Servers started and not yet stopped: a failed test (cmocka jumps out of it) must not leave
 * them running, so they are killed at exit. */
#define MAX_LIVE 64
static pid_t live[MAX_LIVE];

static void forget(pid_t pid)
{
    for (int i = 0; i < MAX_LIVE; i++)
        if (live[i] == pid)
            live[i] = 0;
}

void tu_kill_all(void)
{
    for (int i = 0; i < MAX_LIVE; i++)
        if (live[i] > 0) {
            kill(live[i], SIGKILL);
            waitpid(live[i], NULL, 0);
            live[i] = 0;
        }
}

static void remember(pid_t pid)
{
    static int registered;
    if (!registered) {
        atexit(tu_kill_all);
        registered = 1;
    }
    for (int i = 0; i < MAX_LIVE; i++)
        if (live[i] == 0) {
            live[i] = pid;
            return;
        }
}

int tu_server_start(tu_server *s, const char *const *args)
{
    const char *full[64];
    int n = 0;
    full[n++] = "--port";
    full[n++] = "0";
    for (int i = 0; args && args[i] && n < 62; i++)
        full[n++] = args[i];
    full[n] = NULL;
    return tu_program_start(s, FW_SERVER_BIN, full);
}

int tu_program_start(tu_server *s, const char *prog, const char *const *args)
{
    memset(s, 0, sizeof *s);
    s->pid = spawn_prog(prog, args, &s->out_fd);
    if (s->pid < 0)
        return -1;
    remember(s->pid);
    int64_t deadline = now_ms() + 60000;
    while (now_ms() < deadline) {
        const char *l = strstr(s->output, "listening on http");
        if (l) {
            const char *colon = strchr(l + strlen("listening on https://"), ':');
            if (colon && strchr(colon, '/')) {
                s->port = atoi(colon + 1);
                return 0;
            }
        }
        if (read_some(s->out_fd, s->output, sizeof s->output, 200) == 0)
            break; /* exited */
    }
    tu_server_stop(s, SIGKILL, 2000);
    return -1;
}

int tu_server_stop(tu_server *s, int sig, int timeout_ms)
{
    if (s->pid <= 0)
        return -1;
    if (sig)
        kill(s->pid, sig);
    int64_t deadline = now_ms() + timeout_ms;
    int status;
    for (;;) {
        pid_t r = waitpid(s->pid, &status, WNOHANG);
        if (r == s->pid)
            break;
        if (now_ms() > deadline) {
            kill(s->pid, SIGKILL);
            waitpid(s->pid, &status, 0);
            status = -1;
            break;
        }
        read_some(s->out_fd, s->output, sizeof s->output, 20);
    }
    while (read_some(s->out_fd, s->output, sizeof s->output, 0) > 0)
        ;
    close(s->out_fd);
    forget(s->pid);
    s->pid = 0;
    return status;
}

int tu_server_run_to_exit(const char *const *args, char *out, size_t outlen, int timeout_ms)
{
    int fd;
    out[0] = 0;
    pid_t pid = spawn(args, &fd);
    if (pid < 0)
        return -1;
    int64_t deadline = now_ms() + timeout_ms;
    int status = -1;
    for (;;) {
        read_some(fd, out, outlen, 50);
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid)
            break;
        if (now_ms() > deadline) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            close(fd);
            return -1;
        }
    }
    while (read_some(fd, out, outlen, 0) > 0)
        ;
    close(fd);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int tu_http_get(int port, const char *path, char *body, size_t bodylen)
{
    return tu_http(port, "GET", path, NULL, NULL, 0, body, bodylen);
}

int tu_connect_loopback(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

long tu_tcp_exchange(int port, const void *req, size_t len, size_t split, int split_ms,
                     char *resp, size_t cap, int timeout_ms)
{
    if (!split || split > len)
        split = len;
    int fd = tu_connect_loopback(port);
    if (fd < 0 || send(fd, req, split, MSG_NOSIGNAL) != (ssize_t)split) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    if (split < len) {
        struct timespec ts = {split_ms / 1000, (long)(split_ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
        /* The server may have closed already: that is an answer too. */
        (void)send(fd, (const char *)req + split, len - split, MSG_NOSIGNAL);
    }
    size_t have = 0;
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (have + 1 >= cap || poll(&p, 1, timeout_ms) <= 0)
            break;
        ssize_t r = read(fd, resp + have, cap - 1 - have);
        if (r <= 0)
            break;
        have += (size_t)r;
    }
    close(fd);
    resp[have] = 0;
    return (long)have;
}

int tu_http(int port, const char *method, const char *path, const char *headers,
            const void *req_body, size_t req_len, char *body, size_t bodylen)
{
    int fd = tu_connect_loopback(port);
    if (fd < 0)
        return -1;
    char req[1024];
    int n = snprintf(req, sizeof req,
                     "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n%s"
                     "Content-Length: %zu\r\n\r\n",
                     method, path, headers ? headers : "", req_len);
    if (strcmp(method, "GET") == 0 && req_len == 0)
        n = snprintf(req, sizeof req,
                     "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n%s\r\n", path,
                     headers ? headers : "");
    if (write(fd, req, (size_t)n) != n) {
        close(fd);
        return -1;
    }
    /* The body may be refused early (413): a failed write is not an error here. */
    size_t off = 0;
    while (off < req_len) {
        ssize_t w = send(fd, (const char *)req_body + off, req_len - off, MSG_NOSIGNAL);
        if (w <= 0)
            break;
        off += (size_t)w;
    }
    /* Per call, not static: tests call this from several threads at once. */
    enum { RESP_CAP = 1 << 20 };
    char *resp = malloc(RESP_CAP);
    if (!resp) {
        close(fd);
        return -1;
    }
    size_t have = 0;
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (have + 1 >= RESP_CAP || poll(&p, 1, 10000) <= 0)
            break;
        ssize_t r = read(fd, resp + have, RESP_CAP - 1 - have);
        if (r <= 0)
            break;
        have += (size_t)r;
        resp[have] = 0;
        /* Stop once the headers and Content-Length bytes of body are in. */
        const char *hend = strstr(resp, "\r\n\r\n");
        const char *cl = strcasestr(resp, "content-length:");
        if (hend && cl && cl < hend && have >= (size_t)(hend + 4 - resp) + (size_t)atol(cl + 15))
            break;
    }
    close(fd);
    resp[have] = 0;
    int status = -1;
    sscanf(resp, "HTTP/1.1 %d", &status);
    const char *b = strstr(resp, "\r\n\r\n");
    snprintf(body, bodylen, "%s", b ? b + 4 : "");
    free(resp);
    return status;
}
