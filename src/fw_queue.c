/* fw_queue.c - (being written) */
