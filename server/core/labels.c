/*
 * labels.c - version labels of bootloader and radio modules (labels.h).
 */
#include "labels.h"

#include <string.h>

#include "airlift/image.h"
#include "airlift/version.h"
#include "airlift_host/particle.h"

const char *ald_version_label(uint8_t function, int index, unsigned platform,
                              const char *version, char *buf, size_t cap)
{
    struct al_version v;

    if (!version || index < 0 || index > AL_INDEX_MAX || platform > UINT16_MAX ||
        al_version_parse(version, strlen(version), &v) != AL_OK)
        return NULL;
    return alh_particle_module_label(function, (uint8_t)index, (uint16_t)platform, &v, buf,
                                     cap);
}

/* airlift function of its name ("bootloader" .. "radio"), 0 if none. */
static uint8_t function_named(const char *name)
{
    for (uint8_t f = 1; name && f <= AL_FN_MAX; f++)
        if (!strcmp(name, al_function_name(f)))
            return f;
    return 0;
}

/* Set key_out to the label of the version in key_in of module object o, if one applies. */
static void label_field(json_t *o, unsigned platform, const char *key_in, const char *key_out)
{
    char buf[ALD_VERSION_LABEL_MAX];
    const char *label;
    json_t *index = json_object_get(o, "index");

    if (!json_is_object(o) || !json_is_integer(index))
        return;
    label = ald_version_label(function_named(json_string_value(json_object_get(o, "function"))),
                              (int)json_integer_value(index), platform,
                              json_string_value(json_object_get(o, key_in)), buf, sizeof buf);
    if (label)
        json_object_set_new(o, key_out, json_string(label));
}

void ald_label_module_json(json_t *module, unsigned platform)
{
    label_field(module, platform, "version", "version_label");
}

void ald_label_deps_json(json_t *deps, unsigned platform)
{
    size_t i;
    json_t *d;

    json_array_foreach(deps, i, d)
        label_field(d, platform, "min_version", "min_version_label");
}

void ald_label_modules_json(json_t *modules, unsigned platform)
{
    size_t i;
    json_t *m;

    json_array_foreach(modules, i, m)
        ald_label_module_json(m, platform);
}
