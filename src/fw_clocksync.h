/* fw_clocksync.h - clock offset between a client and the server from ping/pong exchanges
 * (docs/protocol.md, "ping"): the client sends its wall clock T1, the server answers with T1, its
 * receive time T2 and its send time T3, the client receives at T4. Then
 *   offset = ((T2 - T1) + (T3 - T4)) / 2   (server clock minus client clock)
 *   rtt    = (T4 - T1) - (T3 - T2)
 * The estimate kept is the one of the exchange with the smallest rtt (least queueing), whose
 * error is at most rtt / 2. Pure functions; the struct has one owner. */
#ifndef FW_CLOCKSYNC_H
#define FW_CLOCKSYNC_H

#include <stdint.h>

typedef struct fw_clocksync {
    int samples;    /* exchanges seen */
    int64_t offset; /* server minus client, microseconds (best sample) */
    int64_t rtt;    /* of the best sample */
} fw_clocksync;

void fw_clocksync_init(fw_clocksync *c);

/* Adds one exchange (all wall clock, microseconds). Ignores impossible ones (negative rtt beyond
 * clock granularity). Returns 1 when it became the best sample. */
int fw_clocksync_add(fw_clocksync *c, int64_t t1, int64_t t2, int64_t t3, int64_t t4);

#endif /* FW_CLOCKSYNC_H */
