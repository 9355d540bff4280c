/* fw_server.c - (being written) */
