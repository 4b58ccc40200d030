#!/usr/bin/env python3
"""The man pages (issue 15 item 4, docs/man/README.md): each renders with `man -l` without a
warning, and airlift(1) has a section for every command of `airlift help` that names every
option of that command's usage; airliftd(8) names every option of `airliftd --help`;
airlift-device(1) every command and option of `airlift-device --help`.

usage: test_manpages.py MAN_DIR AIRLIFT AIRLIFTD AIRLIFT_DEVICE
"""
import os
import re
import shutil
import subprocess
import sys

MAN_DIR, AIRLIFT, AIRLIFTD, DEVICE = sys.argv[1:5]
failures = []


def check(ok, what):
    print(("ok - " if ok else "FAIL - ") + what)
    if not ok:
        failures.append(what)


def run(*argv):
    return subprocess.run(argv, capture_output=True, text=True, check=False).stdout


def long_options(text):
    """Every --option of a help text's Usage lines and option lines (those starting with -)."""
    opts = set()
    for line in text.splitlines():
        if line.startswith("Usage:") or line.startswith("       ") or line.lstrip().startswith("-"):
            opts.update(re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*", line))
    return opts


def sections(page):
    """(heading, text) of each .SH of a man page, roff font escapes and \\- undone."""
    with open(page, encoding="utf-8") as f:
        roff = f.read()
    roff = re.sub(r"\\f\[[A-Z]*\]|\\f[BIRPC]", "", roff).replace("\\-", "-")
    out = []
    for part in re.split(r"^\.SH ", roff, flags=re.M)[1:]:
        head, _, body = part.partition("\n")
        out.append((head.strip().strip('"'), body))
    return out


def words(s):
    return set(re.findall(r"[a-z][a-z0-9-]*", s))


pages = {name: os.path.join(MAN_DIR, name) for name in ("airlift.1", "airliftd.8", "airlift-device.1")}
if not shutil.which("pandoc"):
    print("SKIP: pandoc is not installed (scripts/deps.sh installs it): no man pages were made")
    sys.exit(77)
have_man = shutil.which("man") is not None
for name, path in pages.items():
    check(os.path.isfile(path), f"{name} was built")
    if have_man:
        r = subprocess.run(["man", "-l", "--warnings", path], capture_output=True, text=True,
                           env=dict(os.environ, MANWIDTH="80"), check=False)
        check(r.returncode == 0 and r.stderr == "", f"{name}: man -l renders it without warnings"
              + (f" ({r.stderr.strip()[:300]})" if r.stderr else ""))
        check("NAME" in r.stdout and "SYNOPSIS" in r.stdout, f"{name}: has NAME and SYNOPSIS")

# airlift(1): one section per command, with every option of its usage.
secs = sections(pages["airlift.1"])
whole = "\n".join(h + "\n" + b for h, b in secs)
top = run(AIRLIFT, "--help")


def subcommands(text):
    m = re.search(r"^Commands:\n((?:  \S.*\n)+)", text, flags=re.M)
    return [line.split()[0] for line in m.group(1).splitlines()] if m else []


for opt in sorted(long_options(top)):
    check(opt in whole, f"airlift(1) names the global option {opt}")
leaves = []
for cmd in subcommands(top):
    text = run(AIRLIFT, "help", cmd)
    subs = subcommands(text)
    if subs:
        leaves += [([cmd, s], run(AIRLIFT, "help", cmd, s)) for s in subs]
    else:
        leaves.append(([cmd], text))
check(len(leaves) > 30, f"airlift help lists {len(leaves)} commands")
for path, text in leaves:
    group = "airlift " + path[0]
    mine = [(h, b) for h, b in secs
            if re.search(r"(?<![\w-])" + re.escape(group) + r"(?![\w-])", h)
            and (len(path) == 1 or path[1] in words(h))]
    name = " ".join(path)
    check(bool(mine), f"airlift(1) has a section for 'airlift {name}'")
    body = "\n".join(h + "\n" + b for h, b in mine)
    missing = sorted(o for o in long_options(text) if o != "--help" and o not in body)
    check(not missing, f"its section names every option of 'airlift {name}'"
          + (f": missing {' '.join(missing)}" if missing else ""))

# airliftd(8): every option in OPTIONS.
d_secs = dict(sections(pages["airliftd.8"]))
d_opts = long_options(run(AIRLIFTD, "--help"))
check(len(d_opts) > 10, f"airliftd --help has {len(d_opts)} options")
missing = sorted(o for o in d_opts if o not in d_secs.get("OPTIONS", ""))
check(not missing, "airliftd(8) OPTIONS names every option of airliftd --help"
      + (f": missing {' '.join(missing)}" if missing else ""))

# airlift-device(1): every command and option of its usage.
usage = subprocess.run([DEVICE, "--help"], capture_output=True, text=True, check=False)
usage = usage.stdout + usage.stderr
dev_page = "\n".join(h + "\n" + b for h, b in sections(pages["airlift-device.1"]))
cmds = re.findall(r"^  ([a-z]+) DIR", usage, flags=re.M)
check(len(cmds) >= 6, f"airlift-device --help lists {len(cmds)} commands")
missing = sorted(c for c in cmds if not re.search(r"(?<![\w-])" + c + r" DIR", dev_page))
check(not missing, "airlift-device(1) describes every command"
      + (f": missing {' '.join(missing)}" if missing else ""))
opts = set(re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*", usage))
missing = sorted(o for o in opts if o != "--help" and o not in dev_page)
check(not missing, "airlift-device(1) names every option"
      + (f": missing {' '.join(missing)}" if missing else ""))

print(f"{len(failures)} failed")
sys.exit(1 if failures else 0)
