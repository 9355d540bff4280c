/* fw_model.c - (being written) */
