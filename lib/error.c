/* error.c - names of al_err values (one table: short text and stable identifier). */
#include "airlift/error.h"

struct err_name {
    al_err err;
    const char *text;
    const char *id;
};

static const struct err_name names[] = {
    {AL_OK, "ok", "ok"},
    {AL_ERR_INVALID_ARG, "invalid argument", "invalid_argument"},
    {AL_ERR_BUFFER_TOO_SMALL, "buffer too small", "buffer_too_small"},
    {AL_ERR_STATE, "not allowed in this state", "bad_state"},
    {AL_ERR_INTERNAL, "internal error", "internal"},
    {AL_ERR_TRUNCATED, "truncated image", "truncated"},
    {AL_ERR_BAD_MAGIC, "not an airlift image (bad magic)", "bad_magic"},
    {AL_ERR_FORMAT_VERSION, "unknown image format version", "format_version"},
    {AL_ERR_HEADER_SIZE, "header size does not match the dependency count", "header_size"},
    {AL_ERR_SIZE_MISMATCH, "file size does not match header and payload", "size_mismatch"},
    {AL_ERR_HASH_MISMATCH, "payload hash mismatch", "hash_mismatch"},
    {AL_ERR_BAD_SIGNATURE, "bad signature", "bad_signature"},
    {AL_ERR_UNKNOWN_KEY, "signed by an unknown key", "unknown_key"},
    {AL_ERR_WRONG_PLATFORM, "built for another platform", "wrong_platform"},
    {AL_ERR_BAD_FUNCTION, "unknown module function or index", "bad_function"},
    {AL_ERR_BAD_VERSION, "malformed version", "bad_version"},
    {AL_ERR_TOO_MANY_DEPS, "too many dependencies", "too_many_dependencies"},
    {AL_ERR_RESERVED, "reserved field not zero", "reserved_not_zero"},
    {AL_ERR_ROLLBACK, "security counter below the device's (rollback)", "rollback"},
    {AL_ERR_DEPENDENCY, "dependencies not met", "dependency_unmet"},
    {AL_ERR_TOO_LARGE, "too large", "too_large"},
    {AL_ERR_LINK_ADDRESS, "linked for another address than its slot", "link_address"},
    {AL_ERR_NO_SLOT, "no slot for this module", "no_slot"},
    {AL_ERR_BAD_DEPENDENCY, "malformed dependency entry", "bad_dependency"},
    {AL_ERR_FLASH, "flash operation failed", "flash"},
    {AL_ERR_POWER_LOSS, "power lost", "power_loss"},
    {AL_ERR_ALIGNMENT, "misaligned flash access", "alignment"},
    {AL_ERR_OUT_OF_RANGE, "flash address out of range", "out_of_range"},
    {AL_ERR_NOT_ERASED, "flash not erased", "not_erased"},
    {AL_ERR_BAD_LAYOUT, "inconsistent flash layout", "bad_layout"},
    {AL_ERR_JOURNAL, "install journal cannot be written", "journal"},
    {AL_ERR_NO_IMAGE, "no valid image", "no_image"},
    {AL_ERR_BUSY, "an install is in progress", "busy"},
    {AL_ERR_VERIFY_AFTER_WRITE, "flash read back differs from what was written", "verify_after_write"},
    {AL_ERR_TRANSPORT, "link failed", "transport"},
    {AL_ERR_TIMEOUT, "timed out", "timeout"},
    {AL_ERR_PROTOCOL, "protocol violation", "protocol"},
    {AL_ERR_REMOVED, "the server removed this device", "removed"},
    {AL_ERR_CANCELLED, "cancelled", "cancelled"},
    {AL_ERR_PATCH_CORRUPT, "corrupt patch", "patch_corrupt"},
    {AL_ERR_PATCH_TRUNCATED, "patch ends early", "patch_truncated"},
    {AL_ERR_PATCH_BASE, "patch made for another old image", "patch_base"},
    {AL_ERR_PATCH_UNSUPPORTED, "not a supported delta stream", "patch_unsupported"},
    {AL_ERR_PATCH_RESUME, "resume point does not match the patch", "patch_resume"},
};

static const struct err_name *lookup(al_err err)
{
    for (unsigned i = 0; i < sizeof names / sizeof names[0]; i++)
        if (names[i].err == err)
            return &names[i];
    return 0;
}

const char *al_strerror(al_err err)
{
    const struct err_name *n = lookup(err);
    return n ? n->text : "unknown error";
}

const char *al_err_name(al_err err)
{
    const struct err_name *n = lookup(err);
    return n ? n->id : "unknown";
}
