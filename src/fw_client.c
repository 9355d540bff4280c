/* fw_client.c - (being written) */
