/*
 * airlift/error.h - the one error type of libairlift.
 *
 * Every fallible function of the device library returns an al_err. AL_OK is 0; every other
 * value names exactly one way things can go wrong, so a device can report it to the server
 * and a test can assert it. Values are stable: they travel in status reports (docs/protocol.md)
 * and are printed by the CLI. Add new codes at the end of their group, never renumber.
 */
#ifndef AIRLIFT_ERROR_H
#define AIRLIFT_ERROR_H

typedef enum al_err {
    AL_OK = 0,

    /* Generic (1..19) */
    AL_ERR_INVALID_ARG = 1,      /* a caller passed a bad argument (NULL, out of range) */
    AL_ERR_BUFFER_TOO_SMALL = 2, /* a caller-provided buffer cannot hold the result */
    AL_ERR_STATE = 3,            /* the call is not allowed in the current state */
    AL_ERR_INTERNAL = 4,         /* an invariant broke: a bug, please report */

    /* Image parsing and verification (20..49) */
    AL_ERR_TRUNCATED = 20,         /* fewer bytes than the header or the image needs */
    AL_ERR_BAD_MAGIC = 21,         /* not an airlift image */
    AL_ERR_FORMAT_VERSION = 22,    /* an image format version this code does not know */
    AL_ERR_HEADER_SIZE = 23,       /* header size field disagrees with the dependency count */
    AL_ERR_SIZE_MISMATCH = 24,     /* the file is longer or shorter than header + payload */
    AL_ERR_HASH_MISMATCH = 25,     /* payload SHA-256 differs from the signed header */
    AL_ERR_BAD_SIGNATURE = 26,     /* ECDSA signature does not verify */
    AL_ERR_UNKNOWN_KEY = 27,       /* signed by a key id the device does not trust */
    AL_ERR_WRONG_PLATFORM = 28,    /* built for another platform id */
    AL_ERR_BAD_FUNCTION = 29,      /* module function unknown or index out of range */
    AL_ERR_BAD_VERSION = 30,       /* malformed semantic version (pre-release tag) */
    AL_ERR_TOO_MANY_DEPS = 31,     /* more dependencies than the format allows */
    AL_ERR_RESERVED = 32,          /* a reserved field or flag bit is not zero */
    AL_ERR_ROLLBACK = 33,          /* security counter lower than the device's */
    AL_ERR_DEPENDENCY = 34,        /* a dependency is not met by the installed modules */
    AL_ERR_TOO_LARGE = 35,         /* image does not fit its slot or the staging area */
    AL_ERR_LINK_ADDRESS = 36,      /* linked for another address than its slot */
    AL_ERR_NO_SLOT = 37,           /* the layout has no slot for this function/index */
    AL_ERR_BAD_DEPENDENCY = 38,    /* a dependency entry is malformed */

    /* Flash and install engine (50..79) */
    AL_ERR_FLASH = 50,          /* the flash port reported a failure */
    AL_ERR_POWER_LOSS = 51,     /* (simulator) power was cut during a flash operation */
    AL_ERR_ALIGNMENT = 52,      /* flash address or length not aligned to the geometry */
    AL_ERR_OUT_OF_RANGE = 53,   /* address outside the flash device or region */
    AL_ERR_NOT_ERASED = 54,     /* (simulator) programming would need to set bits to 1 */
    AL_ERR_BAD_LAYOUT = 55,     /* the flash layout is inconsistent */
    AL_ERR_JOURNAL = 56,        /* the install journal cannot be written */
    AL_ERR_NO_IMAGE = 57,       /* no valid image where one is needed */
    AL_ERR_BUSY = 58,           /* an install or trial is in progress */
    AL_ERR_VERIFY_AFTER_WRITE = 59, /* flash read back differs from what was written */

    /* Agent and transport (80..99), used by the update agent */
    AL_ERR_TRANSPORT = 80,  /* the link failed */
    AL_ERR_TIMEOUT = 81,    /* no answer in time */
    AL_ERR_PROTOCOL = 82,   /* the peer sent something the protocol forbids */
    AL_ERR_CANCELLED = 83,  /* the update was cancelled */
    AL_ERR_REMOVED = 84,    /* the server removed this device (CoAP 4.03): back off */

    /* Delta patches and compressed images (100..119), docs/delta-format.md */
    AL_ERR_PATCH_CORRUPT = 100,     /* the stream's data is inconsistent (checksum, bounds) */
    AL_ERR_PATCH_TRUNCATED = 101,   /* the stream ended before the whole output was produced */
    AL_ERR_PATCH_BASE = 102,        /* the patch was made for another old image (size) */
    AL_ERR_PATCH_UNSUPPORTED = 103, /* not a delta stream, or a version/parameter not supported */
    AL_ERR_PATCH_RESUME = 104,      /* the resume point does not match the stream */
} al_err;

/* Short, stable, human-readable name of an error, e.g. "hash mismatch". Never NULL. */
const char *al_strerror(al_err err);

/* Stable identifier of an error for JSON and logs, e.g. "hash_mismatch". Never NULL. */
const char *al_err_name(al_err err);

#endif
