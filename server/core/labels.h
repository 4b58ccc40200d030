/*
 * labels.h - how users know a module's version (issue 16): a bootloader imported from a
 * Particle module is `1006.0.0` in its image, and "bootloader 1006 (Device OS 2.2.0)" to
 * its users. The server derives the label from the image's (or the inventory's) function,
 * index, platform and version through Particle's release table (host/particle.c,
 * alh_particle_module_label) each time it answers, so nothing is stored and a server built
 * with a newer table labels old images too. docs/api.md, "Version labels".
 */
#ifndef AIRLIFTD_LABELS_H
#define AIRLIFTD_LABELS_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define ALD_VERSION_LABEL_MAX 96 /* bytes of a label, NUL included */

/*
 * The label of version text `version` of module (function, index) on platform, in buf
 * (cap >= ALD_VERSION_LABEL_MAX), or NULL when none applies (the version is its own label).
 */
const char *ald_version_label(uint8_t function, int index, unsigned platform,
                              const char *version, char *buf, size_t cap);

/*
 * Add "version_label" to a module object ({"function":"bootloader","index":0,
 * "version":"1006.0.0",...}) of a device on platform, when one applies; nothing otherwise.
 * ald_label_modules_json does it to every object of an array (NULL or not an array: nothing).
 */
void ald_label_module_json(json_t *module, unsigned platform);
void ald_label_modules_json(json_t *modules, unsigned platform);

/*
 * Add "min_version_label" to each dependency object ({"function":"bootloader","index":0,
 * "min_version":"1005.0.0"}) of an image on platform, when one applies.
 */
void ald_label_deps_json(json_t *deps, unsigned platform);

#endif
