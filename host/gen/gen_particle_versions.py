#!/usr/bin/env python3
"""Generate host/particle_versions.c: Particle's own list of Device OS releases.

Usage: host/gen/gen_particle_versions.py DEVICE_OS > host/particle_versions.c

DEVICE_OS is a particle-iot/device-os work tree, or a bare clone (its files are read from HEAD).

Reads three files of a particle-iot/device-os checkout:
  system/system-versions.md   the table "bootloader module version | system module version |
                              release version | platforms": the only place that pairs the
                              16-bit module_version integers with releases;
  system/inc/system_version.h the SYSTEM_VERSION_vXYZ... list of releases; each release of the
                              table is checked against it, and every difference is listed in
                              the generated file's comment;
  modules/shared/system_module_version.mk
                              the radio stack (Nordic SoftDevice) module version that Gen 3
                              system parts require ("# SoftDevice S140 7.0.1" above
                              "SOFTDEVICE_DEPENDENCY = 202"); with the repository's tags, the
                              first final release whose file declares that number.

One row per release, in the table's order (every release and pre-release). A system module
integer shared by several releases (0.5.0-rc.2 and 0.5.0 are both 13) names the last of them.
The generator also makes sure the semantic versions airlift stores order exactly like the
integers Device OS compares: where a pre-release tag would sort after a later integer's
version (1.5.1-tracker.1 is 1503, 1.5.1-rc.1 is 1510, but "tracker" > "rc"), the tag is
prefixed with "0." (1.5.1-0.tracker.1), which sorts before every alphanumeric tag. It fails
if that is not enough. See docs/particle-modules.md.
"""
import os
import re
import subprocess
import sys
import textwrap


def semver_key(v):
    """Sort key by Semantic Versioning 2.0.0 precedence for (major, minor, patch, pre)."""
    major, minor, patch, pre = v
    if pre == "":
        return (major, minor, patch, 1, ())
    ids = []
    for ident in pre.split("."):
        if ident.isdigit():
            ids.append((0, int(ident), ""))
        else:
            ids.append((1, 0, ident))
    return (major, minor, patch, 0, tuple(ids))


def parse_release(text):
    m = re.fullmatch(r"(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z.-]+))?", text)
    if not m:
        sys.exit(f"gen_particle_versions: cannot parse release '{text}'")
    return (int(m.group(1)), int(m.group(2)), int(m.group(3)), m.group(4) or "")


def header_name(v):
    """The system_version.h macro suffix Particle uses for a release: 0.8.0-rc.10 -> v080RC10."""
    major, minor, patch, pre = v
    name = f"v{major}{minor}{patch}"
    if pre:
        name += re.sub(r"[.-]", "", pre).upper()
    return name


def git_dir(root):
    return root if os.path.isdir(os.path.join(root, "objects")) else os.path.join(root, ".git")


def read_source(root, path):
    """path from a work tree, or from HEAD of a bare repository (root is its git directory)."""
    full = os.path.join(root, path)
    if os.path.exists(full):
        with open(full, encoding="utf-8") as f:
            return f.read()
    try:
        return subprocess.run(["git", "--git-dir", git_dir(root), "show", f"HEAD:{path}"],
                              check=True, capture_output=True, text=True).stdout
    except (OSError, subprocess.CalledProcessError):
        sys.exit(f"gen_particle_versions: cannot read {path} in {root}")


def radio_stacks(root, text):
    """[(number, "S140 7.0.1", first final release or "")] from system_module_version.mk."""
    found = re.findall(r"#\s*SoftDevice\s+(S\d+\s+[\d.]+)\s*\n\s*SOFTDEVICE_DEPENDENCY\s*=\s*(\d+)",
                       text)
    out = []
    try:
        tags = subprocess.run(["git", "--git-dir", git_dir(root), "tag"], check=True,
                              capture_output=True, text=True).stdout.split()
    except (OSError, subprocess.CalledProcessError):
        tags = []
    finals = sorted((parse_release(t[1:])[:3], t) for t in tags
                    if re.fullmatch(r"v\d+\.\d+\.\d+", t))
    for name, number in found:
        first = ""
        for _, tag in finals:
            try:
                old = subprocess.run(["git", "--git-dir", git_dir(root), "show",
                                      f"{tag}:modules/shared/system_module_version.mk"],
                                     check=True, capture_output=True, text=True).stdout
            except (OSError, subprocess.CalledProcessError):
                continue
            if re.search(rf"^SOFTDEVICE_DEPENDENCY\s*=\s*{number}\s*$", old, re.M):
                first = tag[1:]
                break
        out.append((int(number), " ".join(name.split()), first))
    return out


def wrap(items):
    return [" *   " + line for line in textwrap.wrap(", ".join(items) or "none", 90)]


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: gen_particle_versions.py DEVICE_OS_CHECKOUT")
    root = sys.argv[1]
    table = read_source(root, "system/system-versions.md")
    header = read_source(root, "system/inc/system_version.h")
    stacks = radio_stacks(root, read_source(root, "modules/shared/system_module_version.mk"))
    if not stacks:
        sys.exit("gen_particle_versions: no SOFTDEVICE_DEPENDENCY in system_module_version.mk")
    try:
        commit = subprocess.run(["git", "--git-dir", git_dir(root), "rev-parse", "HEAD"],
                                check=True, capture_output=True, text=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        commit = "(commit unknown)"

    rows = []
    for line in table.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 3 or not re.fullmatch(r"\d+", cells[1]):
            continue
        boot = re.match(r"\d+", cells[0])
        rows.append({
            "bootloader": int(boot.group(0)) if boot else 0,
            "module": int(cells[1]),
            "release": cells[2],
            "version": parse_release(cells[2]),
            "platforms": cells[3] if len(cells) > 3 else "",
        })
    if len(rows) < 100:
        sys.exit(f"gen_particle_versions: only {len(rows)} rows found; wrong file?")

    # The semantic version each module integer maps to: the last release that carries it.
    by_module = {}
    for r in rows:
        by_module[r["module"]] = r
    numbers = sorted(by_module)
    semver = {n: list(by_module[n]["version"]) for n in numbers}
    for i, n in enumerate(numbers):
        later_min = min((semver_key(tuple(semver[m])) for m in numbers[i + 1:]), default=None)
        if later_min is not None and semver_key(tuple(semver[n])) >= later_min and semver[n][3]:
            semver[n][3] = "0." + semver[n][3]
    for a, b in zip(numbers, numbers[1:]):
        if not semver_key(tuple(semver[a])) < semver_key(tuple(semver[b])):
            sys.exit(f"gen_particle_versions: {a} ({semver[a]}) does not sort before "
                     f"{b} ({semver[b]})")
    for n in numbers:
        if len(semver[n][3]) > 16:
            sys.exit(f"gen_particle_versions: pre-release tag of {n} is over 16 bytes")

    declared = set(re.findall(r"#define\s+SYSTEM_VERSION_(v\w+)\s", header))
    in_table = {header_name(r["version"]) for r in rows}
    not_in_header = [r["release"] for r in rows if header_name(r["version"]) not in declared]
    not_in_table = sorted(declared - in_table)

    out = []
    out.append("/*")
    out.append(" * particle_versions.c - Particle's list of Device OS releases and their module")
    out.append(" * version integers. GENERATED by host/gen/gen_particle_versions.py from")
    out.append(f" * particle-iot/device-os {commit}:")
    out.append(" * system/system-versions.md, checked against system/inc/system_version.h. Do not edit;")
    out.append(" * regenerate (docs/particle-modules.md, \"Versions\").")
    out.append(" *")
    out.append(f" * {len(rows)} releases. In the table but not declared in system_version.h:")
    out.extend(wrap(not_in_header))
    out.append(" * Declared in system_version.h but not in the table (no module integer known):")
    out.extend(wrap(not_in_table))
    out.append(" */")
    out.append('#include "particle_versions.h"')
    out.append("")
    out.append("/* {system module integer, bootloader integer, release, maps, the semantic version the")
    out.append(" * system module integer maps to, platforms}, in the table's order. maps is 1 on the")
    out.append(" * row whose release that integer maps to (the last row carrying it). */")
    out.append("const struct alh_particle_release alh_particle_releases[] = {")
    for r in rows:
        n = r["module"]
        maps = by_module[n] is r
        v = semver[n]
        out.append(f'    {{{n}, {r["bootloader"]}, "{r["release"]}", {1 if maps else 0}, '
                   f'{v[0]}, {v[1]}, {v[2]}, "{v[3]}",')
        out.append(f'     "{r["platforms"]}"}},')
    out.append("};")
    out.append("")
    out.append("const size_t alh_particle_release_count =")
    out.append("    sizeof(alh_particle_releases) / sizeof(alh_particle_releases[0]);")
    out.append("")
    out.append("/* {radio stack module integer, the SoftDevice it is, the first final release whose")
    out.append(" * system parts require it (\"\" if the clone has no tags)}, from")
    out.append(" * modules/shared/system_module_version.mk. */")
    out.append("const struct alh_particle_radio_stack alh_particle_radio_stacks[] = {")
    for number, name, first in stacks:
        out.append(f'    {{{number}, "{name}", "{first}"}},')
    out.append("};")
    out.append("")
    out.append("const size_t alh_particle_radio_stack_count =")
    out.append("    sizeof(alh_particle_radio_stacks) / sizeof(alh_particle_radio_stacks[0]);")
    sys.stdout.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
