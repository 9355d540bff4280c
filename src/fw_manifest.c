/* fw_manifest.c - (being written) */
