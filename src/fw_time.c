/* fw_time.c - (being written) */
