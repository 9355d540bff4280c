/* fw_topk.c - (being written) */
