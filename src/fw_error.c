/* fw_error.c - wire names of framewire's error codes. */
#include "fw_error.h"

static const char *const names[FW_ERR__COUNT] = {
    [FW_OK] = "ok",
    [FW_ERR_EMPTY_FRAME] = "empty_frame",
    [FW_ERR_BAD_FRAME_HEADER] = "bad_frame_header",
    [FW_ERR_NOT_JPEG] = "not_jpeg",
    [FW_ERR_JPEG_HEADER] = "bad_jpeg_header",
    [FW_ERR_IMAGE_TOO_LARGE] = "image_too_large",
    [FW_ERR_JPEG_CORRUPT] = "corrupt_jpeg",
    [FW_ERR_JPEG_TRUNCATED] = "truncated_jpeg",
    [FW_ERR_UNSUPPORTED_JPEG] = "unsupported_jpeg",
    [FW_ERR_INFERENCE] = "inference_failed",
    [FW_ERR_OVERLOADED] = "overloaded",
    [FW_ERR_BAD_MESSAGE] = "bad_message",
    [FW_ERR_INTERNAL] = "internal",
    [FW_ERR_MESSAGE_TOO_LARGE] = "message_too_large",
    [FW_ERR_UNAUTHORIZED] = "unauthorized",
    [FW_ERR_NOT_FOUND] = "not_found",
};

const char *fw_error_name(fw_err code)
{
    if ((int)code < 0 || code >= FW_ERR__COUNT || !names[code])
        return "unknown";
    return names[code];
}
