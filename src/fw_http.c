/* fw_http.c - (being written) */
