/* fw_decode.c - (being written) */
