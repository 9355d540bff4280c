/* fw_messages.c - (being written) */
