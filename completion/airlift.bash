# bash completion for airlift (docs/cli.md, "Shell completion").
#
# Commands and options are not listed here: they are read from `airlift help COMMAND...`
# at completion time, so they are always the ones of the airlift that runs. Device names
# come from `airlift devices list --names` (the server and token the command line, the
# environment or the config file name; nothing is printed when the server cannot be
# reached). Install as /usr/share/bash-completion/completions/airlift, or source it.

# _airlift_help WORD...: the help text of that command path ("" for the top).
_airlift_help() {
    command "${_airlift_cmd:-airlift}" help "$@" 2>/dev/null
}

# The subcommands listed under "Commands:" in a help text on stdin.
_airlift_subcommands() {
    sed -n '/^Commands:/,/^$/{/^  [a-z]/{s/^  \([a-z][a-z0-9-]*\).*/\1/;p}}'
}

# The options (-x and --long) that start a line of a help text on stdin, or appear in its
# Usage lines, and --help, which every command takes.
_airlift_options() {
    { grep -oE '^ +-[a-zA-Z](, --[a-z][a-z0-9-]*)?|^ +--[a-z][a-z0-9-]*|\[-?-[a-z][a-z0-9-]*' |
        grep -oE -- '--?[a-zA-Z][a-z0-9-]*'; echo --help; } | sort -u
}

# Does option $1 take a value, by the help text on stdin ("  --key KEY.pem  ...")?
_airlift_takes_value() {
    grep -qE -- "(^ +|, )$1[ =][A-Z<]"
}

_airlift_devices() {
    command "${_airlift_cmd:-airlift}" "${_airlift_global[@]}" devices list --names 2>/dev/null
}

_airlift() {
    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD - 1]}
    local -a path=() _airlift_global=()
    local help subs i w positional=0
    _airlift_cmd=${COMP_WORDS[0]}
    help=$(_airlift_help)
    # Walk the words before the cursor: global options, then the command path, then
    # the leaf's options and arguments.
    for ((i = 1; i < COMP_CWORD; i++)); do
        w=${COMP_WORDS[i]}
        case $w in
        --server | --token | --token-file)
            if [ ${#path[@]} -eq 0 ]; then
                _airlift_global+=("$w" "${COMP_WORDS[i + 1]}")
                i=$((i + 1))
                continue
            fi
            ;;
        esac
        if [ "$w" = help ] && [ ${#path[@]} -eq 0 ]; then
            continue
        fi
        subs=$(_airlift_subcommands <<<"$help")
        if [ -n "$subs" ] && [[ $w != -* ]] && grep -qx -- "$w" <<<"$subs"; then
            path+=("$w")
            help=$(_airlift_help "${path[@]}")
        elif [[ $w == -* ]]; then
            # An option of the leaf that takes a value: skip the value.
            [[ $w == *=* ]] || ! _airlift_takes_value "$w" <<<"$help" || i=$((i + 1))
        else
            positional=$((positional + 1))
        fi
    done
    COMPREPLY=()
    # The value of an option.
    if [[ $prev == -* ]] && _airlift_takes_value "$prev" <<<"$help"; then
        case $prev in
        --device) mapfile -t COMPREPLY < <(compgen -W "$(_airlift_devices)" -- "$cur") ;;
        --server | --token | --limit | -n | --last | --timeout | --since | --until | --after) ;;
        *) mapfile -t COMPREPLY < <(compgen -f -- "$cur") ;;
        esac
        return 0
    fi
    if [[ $cur == -* ]]; then
        mapfile -t COMPREPLY < <(compgen -W "$(_airlift_options <<<"$help")" -- "$cur")
        return 0
    fi
    subs=$(_airlift_subcommands <<<"$help")
    if [ -n "$subs" ]; then
        [ ${#path[@]} -eq 0 ] && subs+=$'\nhelp'
        mapfile -t COMPREPLY < <(compgen -W "$subs" -- "$cur")
        return 0
    fi
    # A leaf's argument: a device name where its usage begins with NAME or DEVICE, else a file.
    if [ "$positional" -eq 0 ] &&
        grep -qE "^Usage: airlift ${path[*]} (NAME|DEVICE)( |$)" <<<"$help"; then
        mapfile -t COMPREPLY < <(compgen -W "$(_airlift_devices)" -- "$cur")
        return 0
    fi
    mapfile -t COMPREPLY < <(compgen -f -- "$cur")
}

complete -o filenames -o bashdefault -F _airlift airlift
