/* fw_time.h - clocks in microseconds: monotonic for durations, wall clock for capture stamps. */
#ifndef FW_TIME_H
#define FW_TIME_H

#include <stdint.h>

/* CLOCK_MONOTONIC in microseconds: for measuring durations inside one process. */
int64_t fw_now_us(void);

/* CLOCK_REALTIME in microseconds since the Unix epoch: the clock of capture timestamps. */
int64_t fw_wall_us(void);

#endif /* FW_TIME_H */
