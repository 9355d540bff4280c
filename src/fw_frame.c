/* fw_frame.c - (being written) */
