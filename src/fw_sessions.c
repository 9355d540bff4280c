/* fw_sessions.c - (being written) */
