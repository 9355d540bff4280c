/* fw_pipeline.c - (being written) */
