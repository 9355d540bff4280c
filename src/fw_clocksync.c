/* fw_clocksync.c - ping/pong clock offset (see fw_clocksync.h). */
#include "fw_clocksync.h"

void fw_clocksync_init(fw_clocksync *c)
{
    c->samples = 0;
    c->offset = 0;
    c->rtt = -1;
}

int fw_clocksync_add(fw_clocksync *c, int64_t t1, int64_t t2, int64_t t3, int64_t t4)
{
    int64_t rtt = (t4 - t1) - (t3 - t2);
    if (rtt < -1000 || t3 < t2 || t4 < t1)
        return 0;
    if (rtt < 0)
        rtt = 0;
    c->samples++;
    if (c->rtt >= 0 && rtt >= c->rtt)
        return 0;
    c->rtt = rtt;
    c->offset = ((t2 - t1) + (t3 - t4)) / 2;
    return 1;
}
