/* fw_ws.c - (being written) */
