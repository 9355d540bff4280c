/* fw_error.h - framewire's stable error codes, shared by the server, the protocol and the tools.
 *
 * The names returned by fw_error_name() are part of the wire protocol (docs/protocol.md): never
 * rename one, only add. */
#ifndef FW_ERROR_H
#define FW_ERROR_H

typedef enum fw_err {
    FW_OK = 0,
    FW_ERR_EMPTY_FRAME,       /* "empty_frame": a binary message with no bytes */
    FW_ERR_BAD_FRAME_HEADER,  /* "bad_frame_header": unknown magic/version or header too short */
    FW_ERR_NOT_JPEG,          /* "not_jpeg": payload does not start with a JPEG SOI marker */
    FW_ERR_JPEG_HEADER,       /* "bad_jpeg_header": TurboJPEG cannot read the JPEG header */
    FW_ERR_IMAGE_TOO_LARGE,   /* "image_too_large": declared width*height over the pixel cap */
    FW_ERR_JPEG_CORRUPT,      /* "corrupt_jpeg": fatal error while decoding the scan data */
    FW_ERR_JPEG_TRUNCATED,    /* "truncated_jpeg": decoder warning (premature end, bad data) */
    FW_ERR_UNSUPPORTED_JPEG,  /* "unsupported_jpeg": e.g. CMYK/YCCK colour space */
    FW_ERR_INFERENCE,         /* "inference_failed": the model's forward failed */
    FW_ERR_OVERLOADED,        /* "overloaded": the server's queues are full */
    FW_ERR_BAD_MESSAGE,       /* "bad_message": a text message that is not valid JSON / schema */
    FW_ERR_INTERNAL,          /* "internal": out of memory or another server-side failure */
    FW_ERR_MESSAGE_TOO_LARGE, /* "message_too_large": REST body over the size cap (413) */
    FW_ERR_UNAUTHORIZED,      /* "unauthorized": missing or wrong bearer token (401) */
    FW_ERR_NOT_FOUND,         /* "not_found": no such REST endpoint or method (404/405) */
    FW_ERR__COUNT
} fw_err;

/* The stable wire name of a code ("empty_frame", ...); "unknown" for out-of-range values. */
const char *fw_error_name(fw_err code);

#endif /* FW_ERROR_H */
