/* fw_preprocess.c - (being written) */
